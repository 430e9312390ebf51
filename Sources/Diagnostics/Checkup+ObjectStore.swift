import LockstepCore
import ObjectStore

extension Checkup {
  func objectStorePlan() -> SystemPlan {
    let system = "S3"
    let backupURL = value("LOCKSTEP_BACKUP_URL").flatMap {
      ObjectLocation.isObjectURL($0) ? $0 : nil
    }
    let endpoint = value("AWS_ENDPOINT_URL_S3") ?? value("AWS_ENDPOINT_URL")
    guard backupURL != nil || endpoint != nil else {
      return .done([
        .skipped(
          system, "S3", "not configured (no AWS_ENDPOINT_URL or s3:// LOCKSTEP_BACKUP_URL)")
      ])
    }
    let store: any ObjectStore
    let name: String
    var bucketKnown = true
    do {
      if let backupURL {
        let location = try ObjectLocation(parsing: backupURL)
        name = location.scheme == .gs ? "GCS bucket" : "S3 bucket"
        store = try ObjectStores.client(for: location, environment: environment)
      } else {
        // No bucket to look at: ask for one that should not exist. Its NoSuchBucket answer
        // proves the endpoint speaks S3; the credentials need a real bucket to be proven.
        name = "S3 endpoint"
        bucketKnown = false
        store = S3Client(
          bucket: "lockstep-doctor-probe",
          configuration: try S3Configuration.fromEnvironment(environment), connections: 1)
      }
    } catch {
      return .done([
        .failed(
          system, backupURL == nil ? "S3 endpoint" : "S3 bucket", Self.clause(error),
          problem: Self.sentence(error))
      ])
    }
    let probing = !bucketKnown
    let shown = backupURL.map { Redaction.url($0) } ?? Redaction.url(endpoint ?? "")
    return .run(CheckLog(system: system), subject: "The object store at \(shown)") { log in
      log.begin(name)
      do {
        let line = try await store.check()
        log.pass(name, line)
      } catch ObjectStoreError.noSuchBucket where probing {
        log.pass(
          name,
          "\(shown) answers (credentials unproven without a bucket: set LOCKSTEP_BACKUP_URL=s3://bucket/prefix)"
        )
      } catch {
        log.fail(name, Self.clause(error), problem: Self.sentence(error))
      }
    }
  }
}
