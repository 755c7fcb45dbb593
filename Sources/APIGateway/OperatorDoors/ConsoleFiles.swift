/// The console's page, script and style, compiled into the gateway (no CDN, no build step).
enum ConsoleFiles {
    static var page: [UInt8] { PackageResources.index_html }
    static var script: [UInt8] { PackageResources.console_js }
    static var style: [UInt8] { PackageResources.console_css }
}
