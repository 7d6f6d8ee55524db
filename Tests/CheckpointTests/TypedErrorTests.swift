import Checkpoint
import Containment
import Foundation
import Testing

/// Refusals and a contained child's ends are values: callers match on cases, never on text.
@Suite("Typed errors")
struct TypedErrorTests {
    static let folder = fixtures.folder.appendingPathComponent("torch")

    @Test(arguments: [
        ("whole_model.pt", Refusal.pickledModel(className: "__main__.TinyNet")),
        ("exploit_zip.pt", .forbiddenGlobal("posix.system")),
        ("exploit_legacy.pt", .forbiddenGlobal("posix.system")),
    ])
    func aRefusedFileSaysWhyAsACase(file: String, refusal: Refusal) {
        let path = Self.folder.appendingPathComponent(file).path
        #expect(throws: CheckpointError.refused(path: path, refusal)) { try CheckpointReader.read(path) }
    }

    @Test(arguments: [(UInt8(0xFF), "0xff"), (0x07, "0x07")])
    func anUnknownOpcodeIsNamedInHex(byte: UInt8, hex: String) {
        #expect(Refusal.unsupportedOpcode(byte).description == "refused: the pickle uses opcode \(hex), which a weights file does not need")
    }

    @Test func aRequestRoundTripsThroughTheChildsArgument() throws {
        let request = ContainedRequest(task: .readManifest, path: "/tmp/a b.h5", output: "/dev/shm/out.json")
        let arguments = request.arguments
        #expect(arguments.count == 2)
        #expect(arguments[0] == "contained-read")
        #expect(try ContainedRequest(argument: arguments[1]) == request)
        #expect(throws: ContainmentFailure.malformedRequest("--output x")) { try ContainedRequest(argument: "--output x") }
    }

    @Test(arguments: [
        (ChildOutcome.crashed(signal: 11), ContainmentFailure.crashed(signal: 11)),
        (.timedOut, .timedOut(seconds: 2)),
        (.exited(status: 2, message: "x: refused"), .failed(status: 2, message: "x: refused")),
    ])
    func aChildsEndIsOneFailure(outcome: ChildOutcome, failure: ContainmentFailure) {
        #expect(ContainmentFailure(outcome, timeout: 2) == failure)
        #expect(ContainmentFailure(.exited(status: 0, message: ""), timeout: 2) == nil)
    }

    @Test func aTimedOutReadNamesTheFileAndNoFlag() {
        let error = CheckpointError.contained(path: "f.h5", task: .readCheckpoint, failure: .timedOut(seconds: 3))
        #expect(error.description == "f.h5: reading took longer than 3 s and was stopped; the file may be crafted to hang the reader")
    }
}
