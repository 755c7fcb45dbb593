import Testing
@testable import APIGateway

@Suite struct RequestLogFormatTests {
    @Test(arguments: [
        (Duration.microseconds(12_345), "12.345"), (.milliseconds(2), "2.000"), (.microseconds(7), "0.007"),
        (.seconds(61), "61000.000"), (.nanoseconds(999), "0.000"),
    ])
    func millisecondsHaveThreeDecimals(_ duration: Duration, _ text: String) {
        #expect(RequestLogMiddleware.milliseconds(duration) == text)
    }

    @Test func requestIDsAreAtLeastEightHexDigits() {
        #expect(RequestLogMiddleware.requestID(1) == "00000001")
        #expect(RequestLogMiddleware.requestID(0xabc_def12) == "abcdef12")
        #expect(RequestLogMiddleware.requestID(0x1_0000_0000) == "100000000")
    }
}
