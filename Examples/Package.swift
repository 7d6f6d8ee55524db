// swift-tools-version: 6.0
// Programs that use zoo as an app would: through its public products only, by path. The test
// command builds and runs them (Tools/test.sh), so the public API is tested as a client sees it.
import PackageDescription

let package = Package(
    name: "zoo-examples",
    dependencies: [.package(name: "zoo", path: "..")],
    targets: [
        .executableTarget(name: "ClassifyDigit", dependencies: [.product(name: "ModelZoo", package: "zoo")]),
        .executableTarget(name: "VerifyFolder", dependencies: [.product(name: "ModelZoo", package: "zoo")]),
        // zoo inside a server: open, verify, run and close checkpoints many times; memory, file
        // descriptors and child processes must stay flat.
        .executableTarget(
            name: "LongRunningHost",
            dependencies: [.product(name: "ModelZoo", package: "zoo"), .product(name: "NN", package: "zoo")]),
        // The README's "Use it from Swift" program, line for line.
        .executableTarget(name: "ReadmeProgram", dependencies: [.product(name: "ModelZoo", package: "zoo")]),
    ],
    swiftLanguageModes: [.v6]
)
