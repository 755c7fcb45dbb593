import Foundation
import SysadminConfiguration

/// The control socket's protocol: one JSON request line, one JSON response line.
public enum ControlProtocol {
    public struct Request: Codable, Sendable {
        public var command: String
        public init(command: String) { self.command = command }
    }

    public struct Response: Codable, Sendable {
        public var ok: Bool
        public var error: String?
        public var status: SupervisorStatus?
    }

    /// `<stateDirectory>/control.sock`.
    public static func socketPath(stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("control.sock")
    }
}
