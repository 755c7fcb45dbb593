internal import CCurl
import FoundationEssentials
import Glibc
import Synchronization

/// What a transfer reports, always on the event loop's thread.
enum TransferEvent: Sendable {
    /// The final (non-1xx) status line and headers are complete.
    case head(status: Int, headers: [(name: String, value: String)])
    /// Received bytes. The handler returns false to refuse them for now: the transfer pauses and libcurl
    /// delivers the same bytes again after ``CurlEventLoop/resume(_:)``.
    case body(Data)
    case finished(UpstreamError?)
}

/// Handles a transfer's events; the result only matters for ``TransferEvent/body(_:)`` (accepted or not).
typealias TransferEventHandler = @Sendable (TransferEvent) -> Bool

/// How many of a client's transfers are in memory: finished ones must be let go (tests check it).
final class TransferCensus: Sendable {
    private let count = Mutex(0)

    func change(by delta: Int) {
        count.withLock { $0 += delta }
    }

    var current: Int { count.withLock { $0 } }
}

/// One libcurl easy handle and the state its callbacks need.
///
/// Everything but ``requestCancel(_:)`` runs on the ``CurlEventLoop`` thread; the loop owns the transfer
/// while it is active, which is what keeps the `Unmanaged` pointer handed to libcurl alive.
final class CurlTransfer: @unchecked Sendable {
    let easy: UnsafeMutableRawPointer
    /// Let go of once the transfer finished: a caller's handler may hold what holds this transfer (its cancel
    /// handle), and that cycle would keep every finished transfer — its request and response — alive.
    private var eventHandler: TransferEventHandler?
    private var requestHeaders: UnsafeMutablePointer<curl_slist>?
    private var headerLines: [(name: String, value: String)] = []
    private var pendingStatus: Int?
    private var headDelivered = false
    private var followsRedirects = false
    private var finished = false
    /// The consumer refused data: no reads until resumed, and the idle timeout does not apply.
    private(set) var isPaused = false
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    let timeouts: HTTPTimeouts
    private(set) var startedAt: ContinuousClock.Instant = .now
    private(set) var lastActivity: ContinuousClock.Instant = .now
    /// Set from any thread; the loop reads it when the transfer is added, in case cancel won the race.
    let cancellation = Mutex<UpstreamError?>(nil)

    /// The client's count of transfers in memory.
    private let census: TransferCensus?

    init(request: HTTPRequest, census: TransferCensus? = nil, onEvent: @escaping TransferEventHandler) throws(UpstreamError) {
        guard let easy = curl_easy_init() else {
            throw UpstreamError(.transport, "curl_easy_init failed")
        }
        self.census = census
        census?.change(by: 1)
        self.easy = easy
        self.eventHandler = onEvent
        self.timeouts = request.timeouts
        errorBuffer.initialize(to: 0)
        do {
            try configure(request)
        } catch {
            cleanup()
            throw error
        }
    }

    deinit {
        errorBuffer.deallocate()
        census?.change(by: -1)
    }

    private func configure(_ request: HTTPRequest) throws(UpstreamError) {
        func check(_ code: CURLcode, _ what: String) throws(UpstreamError) {
            guard code == CURLE_OK else {
                throw UpstreamError(.invalidRequest, "\(what): \(String(cString: curl_easy_strerror(code)))")
            }
        }
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw UpstreamError(.invalidRequest, "URL '\(request.url)' must start with http:// or https://")
        }
        try check(ai_curl_setopt_string(easy, CURLOPT_URL, request.url), "URL '\(request.url)'")
        // Threads and signals: libcurl must never raise SIGALRM or SIGPIPE in a multi-threaded process.
        try check(ai_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(ai_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, request.timeouts.connect.milliseconds),
                  "connect timeout")
        try check(ai_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1), "TCP_NODELAY")
        try check(ai_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "PROTOCOLS_STR")
        if let socket = request.unixSocketPath {
            try check(ai_curl_setopt_string(easy, CURLOPT_UNIX_SOCKET_PATH, socket), "UNIX_SOCKET_PATH '\(socket)'")
        }
        if request.maximumRedirects > 0 {
            followsRedirects = true
            try check(ai_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 1), "FOLLOWLOCATION")
            try check(ai_curl_setopt_long(easy, CURLOPT_MAXREDIRS, request.maximumRedirects), "MAXREDIRS")
            try check(ai_curl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https"), "REDIR_PROTOCOLS_STR")
        }
        try check(ai_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "ERRORBUFFER")
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(ai_curl_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback), "WRITEFUNCTION")
        try check(ai_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, me), "WRITEDATA")
        try check(ai_curl_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback), "HEADERFUNCTION")
        try check(ai_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, me), "HEADERDATA")

        switch request.method {
        case .get:
            try check(ai_curl_setopt_long(easy, CURLOPT_HTTPGET, 1), "HTTPGET")
        case .options:
            try check(ai_curl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, "OPTIONS"), "CUSTOMREQUEST")
        case .post:
            try check(ai_curl_setopt_long(easy, CURLOPT_POST, 1), "POST")
            let body = request.body ?? Data()
            try check(ai_curl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "body size")
            // COPYPOSTFIELDS: libcurl keeps its own copy, so the Data may go away before the transfer ends.
            let code = body.withUnsafeBytes { raw -> CURLcode in
                let pointer = raw.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? UnsafeMutableRawPointer(mutating: ("" as StaticString).utf8Start)
                return ai_curl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer)
            }
            try check(code, "body")
        }
        // Without this, libcurl sends "Expect: 100-continue" for larger bodies and waits for the answer.
        var headers = request.headers.map { "\($0.name): \($0.value)" }
        headers.append("Expect:")
        for line in headers {
            // Bytes, not characters: "\r\n" is one Character, so a search for "\r" among characters misses it.
            guard !line.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") || $0 == 0 }) else {
                throw UpstreamError(.invalidRequest, "header '\(line.prefix(40))' contains a line break or NUL")
            }
            guard let list = curl_slist_append(requestHeaders, line) else {
                throw UpstreamError(.invalidRequest, "curl_slist_append failed")
            }
            requestHeaders = list
        }
        try check(ai_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, requestHeaders), "HTTPHEADER")
    }

    // MARK: Loop-thread side

    func markStarted(at now: ContinuousClock.Instant) {
        startedAt = now
        lastActivity = now
    }

    /// The timeout this transfer has run into at `now`, if any.
    func expiredTimeout(at now: ContinuousClock.Instant) -> UpstreamError? {
        if let total = timeouts.total, now - startedAt > total {
            return UpstreamError(.totalTimeout, "no complete response within \(total.secondsText)")
        }
        if let idle = timeouts.idle, !isPaused, now - lastActivity > idle, isConnected {
            return UpstreamError(.idleTimeout, "no data for \(idle.secondsText)")
        }
        return nil
    }

    /// When the loop must wake up at the latest to check this transfer's timeouts.
    func nextDeadline() -> ContinuousClock.Instant? {
        var deadline: ContinuousClock.Instant?
        if let total = timeouts.total { deadline = startedAt + total }
        if let idle = timeouts.idle, !isPaused {
            let idleDeadline = lastActivity + idle
            deadline = deadline.map { min($0, idleDeadline) } ?? idleDeadline
        }
        return deadline
    }

    private var isConnected: Bool {
        var connectTime = 0.0
        return ai_curl_getinfo_double(easy, CURLINFO_CONNECT_TIME, &connectTime) == CURLE_OK && connectTime > 0
    }

    /// One header line as curl hands it over, CRLF included. Parsed on the bytes: this runs for every
    /// header of every response, and Foundation's trimming costs more than the rest of a small request.
    fileprivate func receiveHeader(_ raw: UnsafeRawBufferPointer) {
        lastActivity = .now
        let line = raw.trimmingHTTPWhitespace()
        if line.starts(with: "HTTP/".utf8) {
            let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
            pendingStatus = parts.count > 1 ? Int(String(decoding: parts[1], as: UTF8.self)) : nil
            headerLines = []
        } else if line.isEmpty {
            // End of one header block; 1xx blocks (100 Continue) are followed by the real one, and so are
            // the redirects curl follows.
            if let status = pendingStatus, status >= 200, !(followsRedirects && (300..<400).contains(status)), !headDelivered {
                headDelivered = true
                _ = onEvent(.head(status: status, headers: headerLines))
            }
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let value = String(decoding: line[(colon + 1)...].trimmingHTTPWhitespace(), as: UTF8.self)
            headerLines.append((name, value))
        }
    }

    /// Returns whether the bytes were taken; false pauses the transfer.
    fileprivate func receiveBody(_ data: Data) -> Bool {
        lastActivity = .now
        if !headDelivered {
            headDelivered = true
            _ = onEvent(.head(status: responseCode, headers: headerLines))
        }
        let accepted = onEvent(.body(data))
        if !accepted { isPaused = true }
        return accepted
    }

    /// Lets a paused transfer read again; libcurl first redelivers the bytes that were refused.
    func unpause() {
        guard isPaused, !finished else { return }
        isPaused = false
        lastActivity = .now
        _ = ai_curl_unpause(easy)
    }

    private var responseCode: Int {
        var code = 0
        _ = ai_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code)
        return code
    }

    /// Reports the end of the transfer exactly once.
    func finish(_ result: CURLcode?, overriding error: UpstreamError? = nil) {
        guard !finished else { return }
        finished = true
        let failure = error ?? result.flatMap(mapCurlResult)
        if failure == nil, !headDelivered {
            headDelivered = true
            _ = onEvent(.head(status: responseCode, headers: headerLines))
        }
        _ = onEvent(.finished(failure))
        eventHandler = nil
        cleanup()
    }

    private func onEvent(_ event: TransferEvent) -> Bool {
        eventHandler?(event) ?? false
    }

    private func mapCurlResult(_ code: CURLcode) -> UpstreamError? {
        if code == CURLE_OK { return nil }
        let detail = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
        switch code {
        case CURLE_COULDNT_CONNECT:
            var osErrno = 0
            _ = ai_curl_getinfo_long(easy, CURLINFO_OS_ERRNO, &osErrno)
            return osErrno == Int(ECONNREFUSED)
                ? UpstreamError(.connectionRefused, detail)
                : UpstreamError(.connectionFailed, detail)
        case CURLE_COULDNT_RESOLVE_HOST:
            return UpstreamError(.connectionFailed, detail)
        case CURLE_OPERATION_TIMEDOUT:
            // Total and idle timeouts are enforced by the loop itself, so curl's own timeout is the connect one.
            return UpstreamError(.connectTimeout, "no connection within \(timeouts.connect.secondsText): \(detail)")
        case CURLE_UNSUPPORTED_PROTOCOL where followsRedirects:
            // The request's own URL was checked before; only a redirect can lead to another scheme.
            return UpstreamError(.invalidRequest, "a redirect led away from https:// (\(detail)); redirects are followed to https:// only")
        default:
            return UpstreamError(.transport, "curl error \(code.rawValue): \(detail)")
        }
    }

    private func cleanup() {
        curl_easy_cleanup(easy)
        if let requestHeaders { curl_slist_free_all(requestHeaders) }
        requestHeaders = nil
    }

    // MARK: Any thread

    /// Asks the loop to abort this transfer; the transfer then finishes with `error`.
    func requestCancel(_ error: UpstreamError, on loop: CurlEventLoop) {
        let first = cancellation.withLock { current -> Bool in
            guard current == nil else { return false }
            current = error
            return true
        }
        if first { loop.cancel(self) }
    }
}

private let curlWriteCallback: ai_curl_data_callback = { data, size, count, userdata in
    let length = size * count
    guard let data, let userdata else { return length }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveBody(Data(bytes: data, count: length)) ? length : ai_curl_writefunc_pause()
}

private let curlHeaderCallback: ai_curl_data_callback = { data, size, count, userdata in
    let length = size * count
    guard let data, let userdata else { return length }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(userdata).takeUnretainedValue()
    transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    var secondsText: String {
        let milliseconds = max(0, milliseconds)
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        let hundredths = (milliseconds + 5) / 10
        return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100) s"
    }
}

extension Collection<UInt8> where SubSequence == Self {
    /// Without leading and trailing spaces, tabs, CR and LF (HTTP's optional whitespace and line ends).
    fileprivate func trimmingHTTPWhitespace() -> SubSequence {
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        var end = endIndex
        while end > first, isSpace(self[index(end, offsetBy: -1)]) { end = index(end, offsetBy: -1) }
        return self[first..<end]
    }
}

extension UnsafeRawBufferPointer {
    fileprivate func trimmingHTTPWhitespace() -> Slice<UnsafeRawBufferPointer> {
        self[...].trimmingHTTPWhitespace()
    }
}
