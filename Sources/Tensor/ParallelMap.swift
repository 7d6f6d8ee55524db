import Dispatch
import Foundation

/// `body` over `items` on every core at once, results in the items' order: how `zoo list` and
/// `zoo verify` check several files, and how a checkpoint's tensors are hashed.
public func mapInParallel<Item, Result>(_ items: [Item], _ body: (Item) -> Result) -> [Result] {
    var results = [Result?](repeating: nil, count: items.count)
    let lock = NSLock()
    let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count))
    withoutActuallyEscaping(body) { body in
        nonisolated(unsafe) let (body, items) = (body, items)
        nonisolated(unsafe) var slots = results
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: items.count, by: workers) {
                let value = body(items[index])
                lock.withLock { slots[index] = value }
            }
        }
        results = slots
    }
    return results.compactMap { $0 }
}
