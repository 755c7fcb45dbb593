import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Testing
@testable import APIGateway

@Suite struct OperatorDoorsTests {
    private func request(_ fields: HTTPFields, authority: String = "127.0.0.1:40083") -> Request {
        Request(head: HTTPRequest(method: .post, scheme: "http", authority: authority, path: "/console/login", headerFields: fields),
                body: RequestBody(buffer: ByteBuffer()))
    }

    @Test func theSessionKeyIsReadFromItsCookieOnly() {
        #expect(OperatorDoors.cookieKey([.cookie: "theme=dark; ai_sysadmin_key=sk%2Dop%3D1; other=x"]) == "sk-op=1")
        #expect(OperatorDoors.cookieKey([.cookie: "ai_sysadmin_key_old=sk-1"]) == nil)
        #expect(OperatorDoors.cookieKey([.cookie: "ai_sysadmin_key="]) == nil)
        #expect(OperatorDoors.cookieKey([:]) == nil)
        #expect(OperatorDoors.cookieKey([.cookie: "ai_sysadmin_key=sk%2"]) == nil, "a cut-off escape is no key")
        #expect(OperatorDoors.cookieKey([.cookie: "ai_sysadmin_key=%FF%FE"]) == nil, "bytes that are not UTF-8 are no key")
    }

    @Test func aKeyBecomesACookieValueThatCannotEndTheCookieEarly() {
        for key in ["sk-plain-0123", "a;b=c, d\"e'f", "key with spaces\t", "ключ", "%41 is not A"] {
            let value = CookieValue.encode(key)
            #expect(value.utf8.allSatisfy { $0 < 0x80 && ![UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: " "),
                                                          UInt8(ascii: "\""), UInt8(ascii: "=")].contains($0) }, "\(value)")
            #expect(CookieValue.decode(value) == key)
            #expect(OperatorDoors.cookieKey([.cookie: "a=1; ai_sysadmin_key=\(value)"]) == key)
        }
        #expect(CookieValue.encode("sk-1") == "sk%2D1")
    }

    @Test func aStateChangingRequestNeedsTheConsoleHeaderAndThisOrigin() {
        let header = OperatorDoors.csrfHeader
        #expect(OperatorDoors.crossSiteRefusal(request([:]))?.contains("must carry") == true)
        #expect(OperatorDoors.crossSiteRefusal(request([header: "1"])) == nil, "no Origin (not a browser, or same-origin GET-like)")
        #expect(OperatorDoors.crossSiteRefusal(request([header: "1", .origin: "http://127.0.0.1:40083"])) == nil)
        #expect(OperatorDoors.crossSiteRefusal(request([header: "1", .origin: "http://evil.example"]))?.contains("another origin") == true)
        #expect(OperatorDoors.crossSiteRefusal(request([header: "1", .origin: "http://127.0.0.1:40084"])) != nil, "another port is another origin")
        #expect(OperatorDoors.crossSiteRefusal(request([header: "0"])) != nil)
    }

    @Test func withoutKeysOnlyALoopbackHostNameIsAnswered() {
        for local in ["127.0.0.1:40083", "localhost:40083", "LOCALHOST", "[::1]:40083", "127.1.2.3"] {
            #expect(OperatorDoors.isLoopback(authority: local), "\(local)")
        }
        // A site whose name was rebound to 127.0.0.1 still sends its own name.
        for foreign in ["evil.example:40083", "127.0.0.1.evil.example", "localhost.evil.example", "[::2]:40083", "10.0.0.1:40083", ""] {
            #expect(!OperatorDoors.isLoopback(authority: foreign), "\(foreign)")
        }
        #expect(OperatorDoors.isDoorPath("/") && OperatorDoors.isDoorPath("/console/api/state") && OperatorDoors.isDoorPath("/mcp"))
        #expect(!OperatorDoors.isDoorPath("/v1/models") && !OperatorDoors.isDoorPath("/consoles"))
    }

    @Test func thePagesForbidInlineScriptAndOtherOrigins() {
        let policy = OperatorDoors.securityHeaders[.contentSecurityPolicy] ?? ""
        #expect(policy.contains("default-src 'none'") && policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"))
        #expect(policy.contains("frame-ancestors 'none'"))
        // The page's own script never parses data as markup.
        let script = String(decoding: ConsoleFiles.script, as: UTF8.self)
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            #expect(!script.contains(sink), "console.js uses \(sink)")
        }
        let page = String(decoding: ConsoleFiles.page, as: UTF8.self)
        #expect(!page.contains("<script>") && page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil,
                "no inline script or handlers in the page")
    }
}
