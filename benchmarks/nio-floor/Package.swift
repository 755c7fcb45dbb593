// swift-tools-version: 6.1
import PackageDescription

// The floor the gateway benchmark compares against: the least a SwiftNIO reverse proxy does (benchmarks/README.md).
// A package of its own so that nothing of ai-sysadmin is linked into it.
let package = Package(
    name: "nio-floor",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    ],
    targets: [
        .executableTarget(
            name: "nio-floor-proxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
