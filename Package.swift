// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "zoo",
    products: [
        .executable(name: "zoo", targets: ["zoo"]),
        .library(name: "HDF5", targets: ["HDF5"]),
        .library(name: "JSON", targets: ["JSON"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "Pictures", targets: ["Pictures"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "ModelZoo", targets: ["ModelZoo"]),
        .library(name: "ZooCLI", targets: ["ZooCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"]), .brew(["hdf5"])]
        ),
        .systemLibrary(
            name: "CDeflateChecksum",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"]), .brew(["libdeflate"])]
        ),
        .systemLibrary(name: "CMalloc"),
        // oneDNN: the convolution kernels PyTorch runs on the CPU (Tools/bench/conv_libraries.c), and
        // its GEMM, so that one thread pool serves both.
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"]), .brew(["onednn"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"]), .brew(["jpeg-turbo"])]),
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        .target(name: "JSON"),
        // Child processes with a wall-clock limit, for parsing untrusted files.
        .target(name: "Containment"),
        .target(name: "Tensor"),
        .target(name: "Pictures", dependencies: ["Tensor", "JSON", "Containment", "CPNG", "CJPEG"]),
        // zoo's element-wise kernels that need AVX-512 or AVX2 (chosen at run time): Swift compiles a
        // whole module for the x86-64 baseline, whose 4-lane SSE2 SiLU is slower than oneDNN's.
        .target(name: "CKernels"),
        .target(name: "NN", dependencies: ["Tensor", "JSON", "CDNNL", "CMalloc", "CKernels"]),
        .target(
            name: "Checkpoint",
            dependencies: [
                "HDF5", "Tensor", "JSON", "Containment", "CDeflateChecksum", "CMalloc", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // Its one resource: the torchvision family programs (Tools/make_torchvision_programs.py).
        .target(
            name: "ModelZoo",
            dependencies: ["NN", "Checkpoint", "Tensor", "JSON", "Pictures", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            resources: [.copy("Resources/torchvision-programs.zip")]
        ),
        // The command tree as a library: the executable runs it, and tests run it in-process.
        .target(
            name: "ZooCLI",
            dependencies: [
                "ModelZoo", "Checkpoint", "Tensor", "NN", "JSON", "Pictures",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The Swift runtime and Foundation linked in (Linux, release builds): a process then maps one
        // binary instead of 14 shared libraries, whose relocated data and scattered code pages cost
        // 4-7 MiB of resident memory in every `zoo` process and its reading child
        // (Docs/benchmark-history.md: "Many small tensors"). Debug builds (tests, ThreadSanitizer) link them as before: the static
        // archives' one linker warning (FoundationEssentials' use of mktemp) would fail the
        // warning-free debug build.
        .executableTarget(
            name: "zoo", dependencies: ["ZooCLI"],
            linkerSettings: [
                .unsafeFlags(
                    [
                        "-static-stdlib",
                        // What Foundation's static archive needs beyond what the modules were
                        // compiled to link (they were compiled against the shared Foundation).
                        "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections",
                        "-lFoundationInternationalization", "-lFoundationEssentials",
                    ], .when(platforms: [.linux], configuration: .release))
            ]
        ),
        // Fixture paths, temporary folders and child processes, shared by every test target.
        .target(name: "TestSupport", dependencies: ["Tensor"], path: "Tests/TestSupport"),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(
            name: "CheckpointTests",
            dependencies: ["Checkpoint", "Containment", "HDF5", "Tensor", "JSON", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "NNTests",
            dependencies: ["NN", "Tensor", "Checkpoint", "JSON", "HDF5", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ModelZooTests",
            dependencies: ["ModelZoo", "NN", "Checkpoint", "Tensor", "JSON", "HDF5", "Pictures", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "PicturesTests",
            dependencies: ["Pictures", "HDF5", "Checkpoint", "JSON", "Tensor", "TestSupport"],
            exclude: ["Fixtures"]
        ),
        // The command tree as scripts use it, mostly run in-process (ZooCLI), the binary where
        // exit codes, signals and containment matter: messages, and snapshots of `--help` and
        // `--json` (Snapshots/; regenerate with ZOO_UPDATE_SNAPSHOTS=1).
        .testTarget(
            name: "ZooCommandTests",
            dependencies: [
                "ZooCLI", "Checkpoint", "JSON", "Tensor", "Pictures", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Snapshots", "Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
