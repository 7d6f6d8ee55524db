internal import CMalloc
import Containment
import Foundation
import Tensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading untrusted files where a fault or an endless loop in a C library (libhdf5 1.10 has
/// known heap overflows and hangs on crafted files) cannot take the caller down.
///
/// ``CheckpointReader/read(_:)`` parses in the calling process: it checks everything it can
/// before allocating and never traps on a file's contents in zoo's own code, but a bug inside
/// libhdf5 triggered by a crafted file can still crash or hang the caller. ``read(_:timeout:reader:)``
/// instead runs the reader in a child process (a `zoo` executable given a `ContainedRequest`:
/// `zoo contained-read REQUEST`), with a wall-clock limit. The child writes what it read to a
/// scratch safetensors file, which the caller reads with zoo's own Swift safetensors reader (no C
/// library touches untrusted bytes in the caller). A crash or a hang of the child becomes
/// ``CheckpointError/contained(path:task:failure:)`` naming the file.
///
/// Memory: the scratch file is in /dev/shm (RAM) where there is one. The child frees each tensor
/// as it writes it, and the caller cuts each tensor's bytes out of the file as it copies them, so
/// the tensors exist about once at any moment: in the child, in the file, or in the caller. The
/// child's own cost is one more process (its peak is the reader's: the tensors, plus what the
/// format's reader needs beside them).
public enum ContainedReading {
    /// `__metadata__` key of the transfer file that carries everything but the tensors.
    static let transferKey = "zoo_transfer"
    /// `__metadata__` key of the transfer file that carried a `.pt2`'s program text, escaped
    /// in the header's JSON; still read, though the text now comes back in a file of its own
    /// (``programPath(_:)``).
    static let programKey = "zoo_transfer_program"

    /// Where a reading child puts a `.pt2`'s program text, as its raw bytes, beside the transfer
    /// file at `output`: written as soon as the child has read it, before any weight, and read by
    /// the caller before any tensor, so that neither process holds the text beside the tensors.
    /// Inside the transfer file's header it was escaped (7 MB for a program of 6.6 MB, held with
    /// its text and every tensor in the child, then parsed back in the caller).
    static func programPath(_ output: String) -> String { output + ".program" }
    public static let defaultTimeout: Double = 60

    /// Everything a checkpoint holds besides its tensors, reference vectors and eval set: the
    /// transfer file's result header.
    struct TransferFields: Codable, Sendable {
        var container: CheckpointContainer
        var layoutNotes: [String]
        var storedKeys: [String: String]
        var pickleGlobals: [String]
        var metadata: [String: String]
        var manifestText: String?
        var signature: String?
        var programText: String?
    }

    /// The check's answer: the file was read, and held this many tensors.
    struct CheckFields: Codable, Sendable {
        var tensors: Int
    }

    /// The manifest-only answer.
    struct ManifestFields: Codable, Sendable {
        var manifest: String?
    }

    /// Reads `path` in a child process running `reader contained-read`; throws when the file
    /// cannot be read, the child crashes, or it runs longer than `timeout` seconds (it is then killed).
    public static func read(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> LoadedCheckpoint {
        try read(path, timeout: timeout, reader: reader, takingProgram: nil)
    }

    /// As ``read(_:timeout:reader:)``, handing a `.pt2`'s program text to `take` before any
    /// tensor is read, instead of keeping it in the checkpoint (as
    /// ``CheckpointReader/read(_:takingProgram:)`` does in this process).
    public static func read(_ path: String, timeout: Double = defaultTimeout, reader: URL, takingProgram take: ProgramTaker?)
        throws(CheckpointError) -> LoadedCheckpoint
    {
        let scratch = scratchFolder().appendingPathComponent(
            "zoo-read-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).safetensors")
        defer {
            unlink(scratch.path)
            unlink(programPath(scratch.path))
        }
        try run(ContainedRequest(task: .readCheckpoint, path: path, output: scratch.path), reader: reader, timeout: timeout)
        return try readTransfer(scratch.path, originalPath: path, takingProgram: take)
    }

    /// What `zoo inspect` shows of the checkpoint at `path` (``CheckpointReader/inspect(_:)``), in a
    /// child process as `read` does it. No tensor comes back, and the child holds one at a time:
    /// for a file of many small tensors neither process holds them all, where `read` has both do.
    public static func inspect(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> InspectReport {
        let scratch = scratchFolder().appendingPathComponent("zoo-inspect-\(UUID().uuidString).json")
        defer { unlink(scratch.path) }
        try run(ContainedRequest(task: .inspectCheckpoint, path: path, output: scratch.path), reader: reader, timeout: timeout)
        let transfer: InspectReport.Transfer
        do {
            transfer = try ContainedResultHeader<InspectReport.Transfer>.read(from: scratch.path, task: .inspectCheckpoint).0.fields
        } catch {
            throw .contained(path: path, task: .inspectCheckpoint, failure: error)
        }
        return try InspectReport(transfer, path: path)
    }

    /// Reads every tensor of `path` in a child process as ``inspect(_:timeout:reader:)`` does, and
    /// hands back only the tensor count: for a caller that needs to know the file can be read
    /// before it reads it itself. The report for 20,000 tensors took its caller 20 MiB to
    /// decode, and the memory it left behind raised the caller's own read's peak.
    public static func check(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> Int {
        let scratch = scratchFolder().appendingPathComponent("zoo-check-\(UUID().uuidString).json")
        defer { unlink(scratch.path) }
        try run(ContainedRequest(task: .checkCheckpoint, path: path, output: scratch.path), reader: reader, timeout: timeout)
        do { return try ContainedResultHeader<CheckFields>.read(from: scratch.path, task: .checkCheckpoint).0.fields.tensors } catch {
            throw .contained(path: path, task: .checkCheckpoint, failure: error)
        }
    }

    /// The manifest's text only (no tensor is read), in a child process as `read` does it.
    public static func readManifestText(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> String? {
        let scratch = scratchFolder().appendingPathComponent("zoo-manifest-\(UUID().uuidString).json")
        defer { unlink(scratch.path) }
        let request = ContainedRequest(task: .readManifest, path: path, output: scratch.path)
        try run(request, reader: reader, timeout: timeout)
        do { return try ContainedResultHeader<ManifestFields>.read(from: scratch.path, task: .readManifest).0.fields.manifest } catch {
            throw .contained(path: path, task: .readManifest, failure: error)
        }
    }

    /// The child's side: does what `argument` (a `ContainedRequest` as JSON) asks, in this process.
    public static func serve(argument: String) throws(CheckpointError) {
        let request: ContainedRequest
        do { request = try ContainedRequest(argument: argument) } catch {
            throw .contained(path: "", task: .readCheckpoint, failure: error)
        }
        switch request.task {
        case .readCheckpoint: try serveCheckpoint(request)
        case .inspectCheckpoint:
            returnFreedMemoryPromptly()
            let header = ContainedResultHeader(task: .inspectCheckpoint, fields: try CheckpointReader.inspect(request.path).transfer)
            do { try header.write(to: request.output) } catch { throw .contained(path: request.path, task: request.task, failure: error) }
        case .checkCheckpoint:
            returnFreedMemoryPromptly()
            let header = ContainedResultHeader(
                task: .checkCheckpoint, fields: CheckFields(tensors: try CheckpointReader.inspect(request.path).tensors.count))
            do { try header.write(to: request.output) } catch { throw .contained(path: request.path, task: request.task, failure: error) }
        case .readManifest:
            let header = ContainedResultHeader(
                task: .readManifest, fields: ManifestFields(manifest: try CheckpointReader.readManifestText(request.path)))
            do { try header.write(to: request.output) } catch { throw .contained(path: request.path, task: request.task, failure: error) }
        case .decodePicture:
            throw .contained(path: request.path, task: request.task, failure: .malformedRequest(argument))
        }
    }

    private static func run(_ request: ContainedRequest, reader: URL, timeout: Double) throws(CheckpointError) {
        do { try ChildProcess.serve(request, with: reader, timeout: timeout) } catch {
            throw .contained(path: request.path, task: request.task, failure: error)
        }
    }

    /// Reads the checkpoint and writes it, tensors and all, as the safetensors transfer file.
    private static func serveCheckpoint(_ request: ContainedRequest) throws(CheckpointError) {
        returnFreedMemoryPromptly()
        let programOutput = programPath(request.output)
        var checkpoint = try CheckpointReader.read(request.path) { text throws(CheckpointError) in
            do throws(ContainmentFailure) { try writeText(text, to: programOutput) } catch {
                throw .contained(path: request.path, task: request.task, failure: error)
            }
        }
        // The tensors move out of the checkpoint, so that the writer holds the only reference to
        // each and frees it once written: the child never holds them and the file in full.
        var stateDict = StateDict()
        swap(&stateDict, &checkpoint.stateDict)
        let fields = TransferFields(
            container: checkpoint.container, layoutNotes: checkpoint.layoutNotes, storedKeys: checkpoint.storedKeys,
            pickleGlobals: checkpoint.pickleGlobals, metadata: checkpoint.metadata, manifestText: checkpoint.manifestText,
            signature: checkpoint.signatureText, programText: nil)
        let header = ContainedResultHeader(task: .readCheckpoint, fields: fields)
        var extraMetadata = [transferKey: header.encoded()]
        // A program kept in a manifest (a converted file's) comes back with it; a .pt2's went on its own.
        if let program = checkpoint.programText, checkpoint.manifest?.program == nil { extraMetadata[programKey] = program }
        if !checkpoint.sampleInputs.isEmpty { extraMetadata[SampleInputsIO.metadataKey] = SampleInputsIO.encode(checkpoint.sampleInputs) }
        try SafetensorsWriter.write(
            emptying: &stateDict, manifest: checkpoint.manifest ?? Manifest(), referenceCases: checkpoint.referenceCases,
            evalSet: checkpoint.evalSet, signature: nil, extraMetadata: extraMetadata, to: request.output,
            durable: false)
    }

    private static func readTransfer(_ scratch: String, originalPath: String, takingProgram take: ProgramTaker?)
        throws(CheckpointError) -> LoadedCheckpoint
    {
        // The program first, and given away (parsed, by a caller that runs it) before any tensor.
        var programText: String?
        do { programText = try readText(programPath(scratch)) } catch {
            throw .contained(path: originalPath, task: .readCheckpoint, failure: error)
        }
        if let take, let text = programText {
            programText = nil
            try take(text)
        }
        // Consuming: each tensor's bytes leave the RAM-backed scratch file as they are copied out,
        // so that the file and the tensors never hold the checkpoint twice.
        let raw = try SafetensorsReader.read(scratch, consuming: true)
        let fields: TransferFields
        do {
            fields = try ContainedResultHeader<TransferFields>(decoding: raw.metadata[transferKey] ?? "", task: .readCheckpoint).fields
        } catch {
            throw .contained(path: originalPath, task: .readCheckpoint, failure: error)
        }
        var checkpoint = LoadedCheckpoint(
            path: originalPath, stateDict: StateDict(raw.entries),
            manifest: try fields.manifestText.map { text throws(CheckpointError) in try Manifest(json: text, path: originalPath) },
            referenceCases: raw.referenceCases, layoutNotes: fields.layoutNotes, storedKeys: fields.storedKeys)
        checkpoint.container = fields.container
        checkpoint.pickleGlobals = fields.pickleGlobals
        checkpoint.metadata = fields.metadata
        checkpoint.evalSet = raw.evalSet
        checkpoint.manifestText = fields.manifestText
        checkpoint.signatureText = fields.signature
        checkpoint.programText = programText ?? fields.programText ?? raw.metadata[programKey]
        if checkpoint.programText == nil, let manifestProgram = checkpoint.manifest?.program {
            checkpoint.programText = manifestProgram.serialized()
        }
        checkpoint.sampleInputs = raw.sampleInputs
        return checkpoint
    }

    /// Writes `text`'s bytes, as they are, to a new file at `path`.
    private static func writeText(_ text: String, to path: String) throws(ContainmentFailure) {
        let file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw .cannotWriteAnswer(path: path, reason: String(cString: strerror(errno))) }
        defer { close(file) }
        var text = text
        let failure = text.withUTF8 { bytes -> Int32 in
            var done = 0
            while done < bytes.count {
                let written = write(file, bytes.baseAddress! + done, bytes.count - done)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += written
            }
            return 0
        }
        if failure != 0 { throw .cannotWriteAnswer(path: path, reason: String(cString: strerror(failure))) }
    }

    /// The file at `path` as text, nil when there is none.
    private static func readText(_ path: String) throws(ContainmentFailure) -> String? {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else {
            if errno == ENOENT { return nil }
            throw .incompleteAnswer
        }
        defer { close(file) }
        var status = stat()
        guard fstat(file, &status) == 0, status.st_size >= 0 else { throw .incompleteAnswer }
        let size = Int(status.st_size)
        var complete = true
        let text = String(unsafeUninitializedCapacity: size) { buffer in
            var done = 0
            while done < size {
                let count = systemRead(file, buffer.baseAddress! + done, size - done)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                done += count
            }
            complete = done == size
            return done
        }
        guard complete else { throw .incompleteAnswer }
        return text
    }

    /// The `zoo` executable keeps freed buffers for the next forward pass (`ActivationMemory`);
    /// a reading child wants the opposite: each tensor it has written should leave the process at
    /// once, as the scratch file grows. Tensors of 1 MiB or more get mappings of their own, which
    /// `free` unmaps.
    private static func returnFreedMemoryPromptly() {
        #if canImport(Glibc)
            _ = mallopt(M_MMAP_THRESHOLD, 1 << 20)
            _ = mallopt(M_TRIM_THRESHOLD, 1 << 20)
        #endif
    }

    /// RAM-backed when the system has one (/dev/shm), so the transfer costs memory copies only.
    private static func scratchFolder() -> URL {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isFolder), isFolder.boolValue,
            access("/dev/shm", W_OK) == 0
        {
            return URL(fileURLWithPath: "/dev/shm")
        }
        return FileManager.default.temporaryDirectory
    }
}

/// POSIX `read`, which ``ContainedReading``'s own `read` functions hide inside it.
private func systemRead(_ file: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(file, buffer, count)
}
