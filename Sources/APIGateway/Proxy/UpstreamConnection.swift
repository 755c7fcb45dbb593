import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection to the upstream, owned by one event loop and used only on it: one
/// exchange at a time, its response parts handed to whoever sent the request.
final class UpstreamConnection {
    enum Event {
        case part(HTTPClientResponsePart)
        /// The connection closed or failed; `error` is why, when NIO said.
        case closed((any Error)?)
    }

    let channel: any Channel
    /// How many exchanges this connection carried before the current one.
    var earlierExchanges = 0
    /// The server said it closes after this exchange (`Connection: close`), so it is not pooled.
    private(set) var closesAfterExchange = false
    private(set) var isOpen = true
    private var receiver: ((Event) -> Void)?
    /// While idle in a pool: the pool's hook (an idle connection that closes leaves it) and its expiry.
    private var onIdleClose: (() -> Void)?
    private var idleExpiry: Scheduled<Void>?

    init(channel: any Channel) {
        self.channel = channel
    }

    /// Sends one request; `receiver` gets its response parts, then nothing once it has seen `.end` or `.closed`.
    func send(_ head: HTTPRequestHead, body: ByteBuffer, receiver: @escaping (Event) -> Void) {
        self.receiver = receiver
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// Stops or resumes reading the response: back-pressure from a client that reads slower than the model writes.
    func setReading(_ reading: Bool) {
        channel.setOption(ChannelOptions.autoRead, value: reading).whenFailure { _ in }
        if reading { channel.read() }
    }

    func becameIdle(expiry: Scheduled<Void>, onClose: @escaping () -> Void) {
        idleExpiry = expiry
        onIdleClose = onClose
    }

    func leftIdle() {
        idleExpiry?.cancel()
        idleExpiry = nil
        onIdleClose = nil
    }

    func closeAfterExchange() {
        closesAfterExchange = true
    }

    func close() {
        receiver = nil
        guard isOpen else { return }
        isOpen = false
        channel.close(promise: nil)
    }

    fileprivate func received(_ part: HTTPClientResponsePart) {
        guard let receiver else {
            // Bytes on an idle connection: nothing asked for them, so it cannot be trusted with the next request.
            close()
            return
        }
        if case .end = part { self.receiver = nil }
        receiver(.part(part))
    }

    fileprivate func closed(_ error: (any Error)?) {
        isOpen = false
        let receiver = self.receiver
        self.receiver = nil
        receiver?(.closed(error))
        let onIdleClose = self.onIdleClose
        leftIdle()
        onIdleClose?()
    }
}

/// Passes one upstream channel's response parts and its closing to its ``UpstreamConnection``.
final class UpstreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    var connection: UpstreamConnection?
    private var closedWith: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connection?.received(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closedWith = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection?.closed(closedWith)
        connection = nil
    }
}
