import LockstepCore

/// HKDF-SHA-256 (RFC 5869): the envelope derives its header and payload keys from the file
/// key with it, so one random secret yields independent keys for independent purposes.
public enum HKDF {
  public static func deriveKey(
    from inputKeyMaterial: SecretBytes, salt: [UInt8], info: [UInt8], outputByteCount: Int
  ) -> SecretBytes {
    precondition(outputByteCount > 0 && outputByteCount <= 255 * HMACSHA256.byteCount)
    // Extract: an empty salt means HashLen zero bytes (RFC 5869 section 2.2).
    let saltKey = SecretBytes(
      copying: salt.isEmpty ? [UInt8](repeating: 0, count: HMACSHA256.byteCount) : salt)
    var prk = HMACSHA256.authenticate(inputKeyMaterial, key: saltKey)
    let prkKey = SecretBytes(consuming: &prk)
    // Expand.
    return SecretBytes(count: outputByteCount) { output in
      var previous = [UInt8]()
      var offset = 0
      var counter: UInt8 = 1
      while offset < outputByteCount {
        let hmac = HMACSHA256(key: prkKey)
        hmac.update(previous)
        hmac.update(info)
        hmac.update([counter])
        SecretBytes.wipe(&previous)
        previous = hmac.finalize()
        let take = min(previous.count, outputByteCount - offset)
        for index in 0..<take { output[offset + index] = previous[index] }
        offset += take
        counter &+= 1
      }
      SecretBytes.wipe(&previous)
    }
  }
}
