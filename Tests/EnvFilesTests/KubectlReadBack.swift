import Foundation
import LockstepCore
import TestSupport

extension ReadBack {
  /// `kubectl create secret generic --from-env-file FILE --dry-run=client -o json`: the
  /// Secret kubectl would create, its base64 values turned to hex by python.
  static func kubectl(_ path: String) throws -> [String: [UInt8]] {
    let script = """
      kubectl create secret generic readback --from-env-file="$1" --dry-run=client -o json \
        | python3 -c 'import base64, json, sys; d = json.load(sys.stdin).get("data", {}); print(json.dumps({k: base64.b64decode(v).hex() for k, v in d.items()}))'
      """
    let home = try TemporaryDirectory.make(prefix: "kubectl-readback")
    return try hexMap(
      ChildProcess.run(
        "sh", ["-c", script, "sh", path],
        environment: [
          "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home,
          "KUBECONFIG": home + "/none", "KUBECACHEDIR": home + "/cache",
        ]))
  }
}
