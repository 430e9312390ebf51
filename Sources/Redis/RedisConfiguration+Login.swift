import LockstepCore

extension RedisConfiguration {
  /// Tries a login as `user` with `password` on this configuration's endpoint, on a
  /// connection of its own that is closed right after: the proof that a rotated password
  /// works and that the old one no longer does. `AUTH` is the one command Redis redacts in
  /// `MONITOR` and the slow log, so the password is not seen there.
  ///
  /// Any failure other than a refused password (the server down, a timeout) is thrown: a
  /// login that could not be tried proves nothing either way.
  public func login(user: String, password: SecretBytes) throws(RedisError) -> RedisLoginOutcome {
    var attempt = self
    attempt.username = user
    attempt.password = password
    attempt.database = 0
    do throws(RedisError) {
      let connection = try RedisConnection(attempt)
      try connection.ping()
      return .accepted
    } catch .authenticationFailed, .passwordNotExpected {
      return .refused
    }
  }
}
