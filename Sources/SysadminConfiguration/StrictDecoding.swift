import FoundationEssentials

/// A coding key for any string; used to see every key an object has, known or not.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// Rejects keys the type does not know, so a typo (`contextsize`) is an error instead of a silent default.
    func rejectUnknownKeys<Key: CodingKey & CaseIterable>(_ keys: Key.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Key.allCases.map(\.stringValue)
        for key in container.allKeys where !known.contains(key.stringValue) {
            let path = (codingPath + [key]).dottedPath
            throw ConfigurationError(
                keyPath: path,
                "unknown key '\(key.stringValue)'; known keys here: \(known.sorted().joined(separator: ", "))")
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `defaultValue` when the key is absent. A present `null` also means the default.
    func decode<T: Decodable>(_ key: Key, default defaultValue: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? defaultValue
    }
}

extension Array where Element == any CodingKey {
    /// `models.trigger.port`, the way the configuration file spells a location.
    var dottedPath: String {
        map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            .joined(separator: ".")
            .replacing(".[", with: "[")
    }
}

/// A configuration that cannot be used, with the key, the value and what to do.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var keyPath: String
    public var message: String

    public init(keyPath: String, _ message: String) {
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String { keyPath.isEmpty ? message : "\(keyPath): \(message)" }

    /// Translates Foundation's decoding errors into messages that name the key in config-file terms.
    static func from(_ error: any Error, file: String) -> ConfigurationError {
        switch error {
        case let error as ConfigurationError:
            return error
        case DecodingError.typeMismatch(let type, let context):
            return ConfigurationError(keyPath: context.codingPath.dottedPath,
                                      "expected \(describe(type)) (\(context.debugDescription))")
        case DecodingError.valueNotFound(let type, let context):
            return ConfigurationError(keyPath: context.codingPath.dottedPath, "expected \(describe(type)), found null")
        case DecodingError.keyNotFound(let key, let context):
            return ConfigurationError(keyPath: (context.codingPath + [key]).dottedPath, "is required")
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            return ConfigurationError(keyPath: context.codingPath.dottedPath, "invalid value: \(context.debugDescription)")
        case DecodingError.dataCorrupted(let context):
            let underlying = context.underlyingError.map { "\($0)" }
            return ConfigurationError(keyPath: context.codingPath.dottedPath,
                                      "\(file) is not valid JSON: \(underlying ?? context.debugDescription)")
        default:
            return ConfigurationError(keyPath: "", "\(file): \(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}
