import Testing
@testable import APIGateway

@Suite struct GatewayKeysTests {
    private let keys = [Array("sk-operator-7f3a".utf8), Array("sk-client-19".utf8)]

    @Test func onlyTheExactKeyIsAccepted() {
        #expect(GatewayKeys.contains(keys, "sk-operator-7f3a") && GatewayKeys.contains(keys, "sk-client-19"))
        // A length difference of 256 or 512 bytes once folded into zero and let these through.
        for extra in [1, 255, 256, 512, 4096] {
            #expect(!GatewayKeys.contains(keys, "sk-operator-7f3a" + String(repeating: "x", count: extra)), "\(extra) bytes appended")
            #expect(!GatewayKeys.contains(keys, "sk-operator-7f3a" + String(repeating: "\0", count: extra)), "\(extra) NUL bytes appended")
        }
        for wrong in ["", "sk-operator-7f3", "sk-operator-7f3b", "SK-OPERATOR-7F3A", "sk-client-1"] {
            #expect(!GatewayKeys.contains(keys, wrong), "\(wrong)")
        }
        #expect(!GatewayKeys.contains([], "anything"))
    }
}
