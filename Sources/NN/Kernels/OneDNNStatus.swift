internal import CDNNL

/// A oneDNN status (`dnnl_status_t`), as a Swift value.
public enum OneDNNStatus: Sendable, Equatable, CustomStringConvertible {
    case success
    case outOfMemory
    case invalidArguments
    /// oneDNN has no kernel for this case (the usual reason a convolution falls back).
    case unimplemented
    case iteratorEnds
    case runtimeError
    case notRequired
    case other(Int32)

    init(_ status: dnnl_status_t) {
        switch status {
        case dnnl_success: self = .success
        case dnnl_out_of_memory: self = .outOfMemory
        case dnnl_invalid_arguments: self = .invalidArguments
        case dnnl_unimplemented: self = .unimplemented
        case dnnl_iterator_ends: self = .iteratorEnds
        case dnnl_runtime_error: self = .runtimeError
        case dnnl_not_required: self = .notRequired
        default: self = .other(Int32(bitPattern: status.rawValue))
        }
    }

    public var description: String {
        switch self {
        case .success: "success"
        case .outOfMemory: "out of memory"
        case .invalidArguments: "invalid arguments"
        case .unimplemented: "unimplemented"
        case .iteratorEnds: "iterator ends"
        case .runtimeError: "runtime error"
        case .notRequired: "not required"
        case .other(let code): "status \(code)"
        }
    }
}

/// Why a convolution did not run on oneDNN and ran on zoo's own kernels instead; a layer keeps
/// the last one (``Conv2d/oneDNNFallback``).
public enum OneDNNFallback: Error, Sendable, Equatable, CustomStringConvertible {
    /// A oneDNN call returned `status`.
    case failed(call: String, status: OneDNNStatus)
    /// oneDNN offers only its reference kernel here, slower than zoo's own.
    case referenceKernelOnly(implementation: String)
    /// A case oneDNN's primitive cannot describe (output padding larger than the padding).
    case unsupported(reason: String)

    public var description: String {
        switch self {
        case .failed(let call, let status): "\(call) returned \(status)"
        case .referenceKernelOnly(let implementation): "oneDNN offers only its reference kernel (\(implementation))"
        case .unsupported(let reason): reason
        }
    }
}

extension OneDNN {
    /// Throws the fallback naming `call` unless `status` is success.
    static func check(_ status: dnnl_status_t, _ call: String) throws(OneDNNFallback) {
        guard status == dnnl_success else { throw .failed(call: call, status: OneDNNStatus(status)) }
    }
}
