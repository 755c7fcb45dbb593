import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 channel with ``GatewayProxyHandler`` placed after its connection-state handler, so the
/// meta model's `/v1` requests are answered on the event loop and everything else reaches the router as before.
struct GatewayHTTP1Channel: ServerChildChannel {
    let http1: HTTP1Channel
    /// `nil`: every request goes to the router (an `https` upstream).
    let proxy: ProxyServices?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        let proxy = proxy
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Stream events are small writes a few milliseconds apart: Nagle's algorithm would hold each one back
            // until the client acknowledged the one before.
            try channel.syncOptions?.setOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            if let proxy {
                let pipeline = channel.pipeline.syncOperations
                let connectionState = try pipeline.handler(type: HTTPConnectionStateHandler.self)
                try pipeline.addHandler(GatewayProxyHandler(services: proxy), position: .after(connectionState))
            }
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await http1.handle(value: value, logger: logger)
    }
}
