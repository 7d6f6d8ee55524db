// swift-tools-version: 6.0
// libFuzzer harness over each of zoo's readers, in-process and coverage-guided. Built apart from
// the main package because every module is compiled with the fuzzer's instrumentation:
//   python3 Tools/fuzz/libfuzzer.py --seconds SECONDS_PER_READER
import PackageDescription

let package = Package(
    name: "zoo-fuzz",
    dependencies: [.package(name: "zoo", path: "..")],
    targets: [
        // The process's entry point (see driver.c).
        .target(name: "FuzzDriver"),
        .executableTarget(
            name: "ZooFuzz",
            dependencies: [
                "FuzzDriver", .product(name: "Checkpoint", package: "zoo"), .product(name: "Pictures", package: "zoo"),
            ]
        ),
    ]
)
