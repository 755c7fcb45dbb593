import FoundationEssentials

/// The one rule that turns a configured `model` into a file path, shared by the daemon, `config check` and
/// (later) the NixOS module and `models pull`, so a model is never saved under one name and loaded under
/// another.
///
/// - An absolute path, or one that contains `/`, is used as it is.
/// - Anything else is a name: `qwen3:1b` resolves to `<modelDirectory>/qwen3-1b.gguf` (`:` becomes `-`;
///   a name already ending in `.gguf` keeps it).
public enum ModelReference {
    public static func resolve(_ model: String, modelDirectory: String) -> String {
        if model.utf8.contains(UInt8(ascii: "/")) { return model }
        var file = model.replacing(":", with: "-")
        if !file.hasSuffix(".gguf") { file += ".gguf" }
        return FilePaths.join(modelDirectory, file)
    }
}
