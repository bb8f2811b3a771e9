// swift-tools-version: 6.1
import PackageDescription

// Native libraries come from Debian (scripts/install-deps.sh). C and C++ stay behind the
// C-only shim targets under Sources/Shims; no C type appears in a public Swift signature.
//
// The targets are listed by area, each area in its own block, so that work on one area
// touches one block of this file.

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")

// MARK: Shared modules: volumes with their geometry, NIfTI and zstd I/O
let sharedTargets: [Target] = [
    .systemLibrary(name: "CZstd", path: "Sources/Shims/CZstd", pkgConfig: "libzstd"),
    .target(
        name: "CNIfTI", path: "Sources/Shims/CNIfTI",
        linkerSettings: ["niftiio", "znz", "z", "m"].map { .linkedLibrary($0) }),
    .target(name: "Volumes"),
    // Crash-safe file writes (temp name, fsync, rename, folder fsync) and safe file names: one owner for every writer.
    .target(name: "DurableFiles"),
    .target(name: "NIfTI", dependencies: ["Volumes", "CNIfTI", "CZstd"]),
    // What a model is: its classes and how it wants its input prepared.
    .target(name: "ModelSpec"),
    // Synthetic abdominal CT phantoms with WORD labels (tests, demo, training).
    .target(name: "Phantom", dependencies: ["Volumes"]),
    // CT synthesized on real anatomy (WORD label maps): the training data for real scans.
    // Optimised even in debug builds: tests synthesize whole scans.
    .target(name: "Synthesis", dependencies: ["Phantom", "Volumes", "NIfTI"], swiftSettings: [.unsafeFlags(["-O"])]),
    // Window planning, Gaussian weighting and the streaming merger: pure logic, no engine.
    .target(name: "SlidingWindows", dependencies: ["Volumes"])
]
let sharedTests: [Target] = [
    .target(name: "TestSupport", dependencies: ["Volumes"], path: "Tests/TestSupport"),
    .testTarget(name: "VolumesTests", dependencies: ["Volumes", "TestSupport"]),
    .testTarget(name: "NIfTITests", dependencies: ["NIfTI", "Volumes", "TestSupport"]),
    .testTarget(name: "ModelSpecTests", dependencies: ["ModelSpec"]),
    .testTarget(name: "PhantomTests", dependencies: ["Phantom", "Volumes"]),
    .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "Phantom", "Volumes"]),
    .testTarget(name: "SlidingWindowsTests", dependencies: ["SlidingWindows", "Volumes"])
]
let sharedModules: [Target.Dependency] = ["Volumes", "NIfTI", "ModelSpec", "Phantom", "Synthesis", "SlidingWindows"]

// MARK: Training: losses, backward passes, optimizer, distillation
// Optimised even in debug builds: the loss and elementwise loops would make tests crawl.
let trainingLoops: [SwiftSetting] = [.unsafeFlags(["-O"])]
let trainingTargets: [Target] = [
    // A site's labelled CT (nnU-Net, MSD, WORD, CSV layouts) and how its labels map to the model's classes.
    .target(name: "Datasets", dependencies: ["Ingest", "ModelSpec", "NIfTI", "Preprocess", "Volumes"]),
    .target(
        name: "Training",
        dependencies: [
            "Inference", "CDNNL", "ModelSpec", "Phantom", "Synthesis", "Preprocess", "Volumes", "Datasets", "NIfTI"
        ],
        swiftSettings: trainingLoops),
    .testTarget(
        name: "TrainingTests",
        dependencies: ["Training", "Inference", "Datasets", "ModelSpec", "NIfTI", "Phantom", "Volumes", "TestSupport"])
]

// MARK: Ingest: DICOM files → series → volume in HU (DCMTK, OpenJPEG)
let ingestTargets: [Target] = [
    .systemLibrary(name: "COpenJPEG", path: "Sources/Shims/COpenJPEG", pkgConfig: "libopenjp2"),
    .target(
        name: "CDicom", dependencies: ["COpenJPEG"], path: "Sources/Shims/CDicom",
        linkerSettings: [
            "dcmtls", "dcmnet", "dcmrt", "dcmseg", "dcmfg", "dcmiod", "dcmjpls", "dcmtkcharls", "dcmjpeg", "ijg8",
            "ijg12", "ijg16", "dcmimage", "dcmimgle",
            "dcmdata", "oflog", "ofstd", "openjp2", "z"
        ].map { .linkedLibrary($0) }),
    .target(name: "Ingest", dependencies: ["CDicom", "Volumes", "ModelSpec", logging]),
    // CT series written from a volume: phantoms as DICOM for the demo and the tests (no product path writes CT).
    .target(name: "PhantomDicom", dependencies: ["Ingest", "CDicom", "Volumes", logging])
]
let ingestTests: [Target] = [
    .testTarget(
        name: "IngestTests",
        dependencies: ["Ingest", "PhantomDicom", "NIfTI", "Volumes", "ModelSpec", "TestSupport", "CZlib", logging])
]
let ingestModules: [Target.Dependency] = [
    "Ingest", "PhantomDicom"
]

// MARK: Preprocess and export: reorient, resample, crop, normalize, and back
// Voxel loops run 30-100× slower unoptimized; these targets are optimized in debug builds too,
// so that tests can use scan-sized grids and stay fast.
let optimizedVoxelLoops: [SwiftSetting] = [.unsafeFlags(["-O"])]
let preprocessTargets: [Target] = [
    // zlib for the PNG encoder of the preview (deflate and CRC-32).
    .systemLibrary(name: "CZlib", path: "Sources/Shims/CZlib"),
    .target(name: "Preprocess", dependencies: ["Volumes", "ModelSpec"], swiftSettings: optimizedVoxelLoops),
    .target(
        name: "Export", dependencies: ["Volumes", "NIfTI", "ModelSpec", "CZlib", "DurableFiles"],
        swiftSettings: optimizedVoxelLoops),
    // Time and peak memory of each step on scan-sized input (docs/BENCHMARKS.md).
    .executableTarget(
        name: "preprocess-bench", dependencies: ["Preprocess", "Export", "Volumes", "ModelSpec"],
        path: "Sources/PreprocessBench")
]
let preprocessTests: [Target] = [
    .testTarget(
        name: "PreprocessTests",
        dependencies: ["Preprocess", "Volumes", "ModelSpec", "NIfTI", "Phantom", "TestSupport"],
        swiftSettings: optimizedVoxelLoops),
    .testTarget(
        name: "ExportTests", dependencies: ["Export", "Volumes", "NIfTI", "ModelSpec", "TestSupport"],
        swiftSettings: optimizedVoxelLoops)
]

// MARK: Inference: LCOV-Net on oneDNN, model files, sliding windows
let inferenceTargets: [Target] = [
    .systemLibrary(name: "CDNNL", path: "Sources/Shims/CDNNL"),
    // OpenSSL's libcrypto: SHA-256 of model files (provenance).
    .systemLibrary(name: "CCrypto", path: "Sources/Shims/CCrypto", pkgConfig: "libcrypto"),
    .target(name: "Inference", dependencies: ["CDNNL", "CCrypto", "ModelSpec"])
]
let inferenceTests: [Target] = [
    .testTarget(
        name: "InferenceTests",
        dependencies: ["Inference", "ModelSpec", "Phantom", "Volumes", "TestSupport", "ModelTestSupport"]),
    // RandomModel for the test targets that need an LCOV-Net model directory.
    .target(name: "ModelTestSupport", dependencies: ["Inference", "ModelSpec"], path: "Tests/ModelTestSupport")
]
let inferenceModules: [Target.Dependency] = [
    "Inference"
]

// MARK: Segmentation: the whole job on one scan (ingest → prepare → infer → labels on the scan's grid)
let segmentationTargets: [Target] = [
    .target(
        name: "Segmentation",
        dependencies: [
            "Ingest", "Preprocess", "Inference", "SlidingWindows", "Export", "NIfTI", "Volumes", logging
        ]),
    .testTarget(
        name: "SegmentationTests",
        dependencies: [
            "Segmentation", "Ingest", "PhantomDicom", "ModelSpec", "Preprocess", "Inference",
            "SlidingWindows", "Phantom", "NIfTI", "Volumes", "TestSupport",
            "ModelTestSupport"
        ]),
    // A model scored: on phantoms (Dice per organ, int8 against fp32) and on a site's labelled CT (Dice, HD95, NSD).
    .target(
        name: "Evaluation",
        dependencies: ["Segmentation", "Datasets", "Phantom", "Inference", "ModelSpec", "NIfTI", "Volumes", logging]),
    .testTarget(
        name: "EvaluationTests",
        dependencies: [
            "Evaluation", "Segmentation", "Datasets", "Ingest", "PhantomDicom", "ModelSpec", "Preprocess", "Inference",
            "Phantom", "NIfTI", "Volumes", "TestSupport", "ModelTestSupport", logging
        ])
]

// MARK: Retraining: the distillation cache, teacher backfill, retraining rounds, versioned models
let retrainingTargets: [Target] = [
    .target(
        name: "Retraining",
        dependencies: [
            "Training", "Inference", "Segmentation", "Phantom", "Preprocess", "ModelSpec", "NIfTI", "Export", "Volumes",
            "CZstd", "DurableFiles", logging
        ],
        swiftSettings: [.unsafeFlags(["-O"])]),
    .testTarget(
        name: "RetrainingTests",
        dependencies: [
            "Retraining", "Training", "Inference", "Phantom", "Preprocess", "ModelSpec", "Volumes",
            "NIfTI", "TestSupport", "ModelTestSupport", logging
        ]),
    // The domain-shift experiment of docs/RETRAINING.md (a release build; not part of the product).
    .executableTarget(
        name: "retrain-experiment",
        dependencies: ["Retraining", "Segmentation", "Inference", "NIfTI", "Phantom", "Volumes", logging],
        path: "Sources/RetrainExperiment")
]

// MARK: Daemon: lcovnet serve — configuration, watch folder, job ledger, spool, logs, metrics, systemd
let daemonPackages: [Package.Dependency] = [
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0")
]
let daemonTargets: [Target] = [
    // renameat2(RENAME_EXCHANGE): a result replaced in one step (late files of a series).
    .target(name: "CDaemonSystem", path: "Sources/Shims/CDaemonSystem"),
    // libpq: the job ledger on PostgreSQL, shared by several workers.
    .systemLibrary(name: "CPostgres", path: "Sources/Shims/CPostgres", pkgConfig: "libpq"),
    .target(
        name: "Daemon",
        dependencies: [
            "Volumes", "CDaemonSystem", "CPostgres", "DurableFiles", logging,
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "TOMLKit", package: "TOMLKit")
        ]),
    // The jobs `lcovnet serve` wires into the daemon: grouping by DICOM headers, segmentation, conversion.
    .target(
        name: "DaemonJobs",
        dependencies: [
            "Daemon", "Datasets", "Ingest", "NIfTI", "Preprocess", "Volumes", "Segmentation", "Inference", "Export",
            "Retraining", "DurableFiles", logging,
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
        ])
]
let daemonTests: [Target] = [
    .testTarget(
        name: "DaemonTests",
        dependencies: ["Daemon", "Ingest", "PhantomDicom", "NIfTI", "Phantom", "Volumes", "TestSupport", logging]),
    // The jobs themselves, without a daemon process: the cache hook, the configuration's teacher and round settings.
    .testTarget(
        name: "DaemonJobsTests",
        dependencies: [
            "DaemonJobs", "Daemon", "Retraining", "Ingest", "PhantomDicom", "ModelSpec", "Phantom", "Segmentation",
            "TestSupport", "ModelTestSupport", logging
        ])
]
let daemonModules: [Target.Dependency] = [
    "Daemon", "DaemonJobs", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
]

// MARK: The executable
let executableTargets: [Target] = [
    .executableTarget(
        name: "lcovnet",
        dependencies: sharedModules + ingestModules + ["Export"] + inferenceModules + [
            "Segmentation", "Evaluation", "Datasets", "Training", "Retraining"
        ] + daemonModules
            + [argumentParser, logging])
]

let package = Package(
    name: "lcovnet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lcovnet", targets: ["lcovnet"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0")
    ] + daemonPackages,
    targets: sharedTargets + sharedTests + trainingTargets
        + ingestTargets + ingestTests
        + preprocessTargets + preprocessTests
        + inferenceTargets + inferenceTests
        + segmentationTargets
        + retrainingTargets
        + daemonTargets + daemonTests
        + executableTargets,
    cxxLanguageStandard: .cxx17
)
