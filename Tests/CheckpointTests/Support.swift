import Foundation
import TestSupport
import Testing

/// h5py-written layouts (Tools/make_interop_fixtures.py) and damaged files.
let fixtures = Fixtures("CheckpointTests")

/// Runs `python3 -c script arguments...` and returns its stdout, failing the test (at the
/// caller's line) with python's stderr when it fails.
func runPython(_ script: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let result = try runPythonScript(script, arguments)
    #expect(result.status == 0, "python3 failed: \(result.stderr)", sourceLocation: sourceLocation)
    return result.stdout
}
