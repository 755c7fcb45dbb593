import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// HTTP/1.0 without keep-alive closes the connection after the answer. Hummingbird sees requests as swift-http-types
/// values, which carry no HTTP version, so it would keep such a connection open for the next request that never
/// comes; this marks the request `Connection: close` while NIO still knows its version, and Hummingbird then closes
/// after answering.
final class HTTP10CloseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), !head.isKeepAlive, head.headers["connection"].first != "close" else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

/// Hummingbird adds its extra handlers after its HTTP/1 → swift-http-types codec; this one puts
/// ``HTTP10CloseHandler`` in front of the codec, then steps out of the way.
final class HTTP10CloseInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let codec = try? pipeline.handler(type: HTTP1ToHTTPServerCodec.self) {
            try? pipeline.addHandler(HTTP10CloseHandler(), position: .before(codec))
        }
        _ = pipeline.removeHandler(context: context)
    }
}
