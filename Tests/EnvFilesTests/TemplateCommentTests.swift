import EnvFiles
import Testing

/// Issue 17 item 8: `A={{ KEY }} # note` rendered the comment into the value, silently.
@Suite struct TemplateCommentTests {
  @Test(arguments: [
    "A={{ KEY }} # note", "A={{ KEY }}\t# note", "A=x {{ KEY }} #n", "A={{ KEY }} ## x",
  ])
  func aCommentAfterAPlaceholderIsRefused(line: String) {
    #expect(
      throws: EnvFilesError.templateSyntax(
        line: 2,
        reason:
          "' #' after '=' would become part of the value, not a comment: put the comment on a line of its own"
      )
    ) {
      try EnvTemplate(parsing: "# header\n\(line)\n")
    }
  }

  @Test(arguments: ["A={{ KEY }}", "A=https://x/{{ KEY }}#frag", "# {{ KEY }} # in a comment"])
  func aHashWithoutABlankIsText(line: String) throws {
    _ = try EnvTemplate(parsing: line + "\n")
  }
}
