import Foundation
import Vapor

/// Where uploaded bytes live, outside the database. Content-addressed: the key is the SHA-256 of the bytes,
/// so a file kept by several versions is stored once and never rewritten.
protocol FileStorage: Sendable {
    /// Stores the bytes (if not already there) and returns their hex SHA-256.
    func put(_ data: Data) throws -> String
    /// Reads `length` bytes from `offset` (nil: to the end). Throws `FileStorageError.missing` when absent.
    func read(_ sha256: String, offset: Int, length: Int?) throws -> Data
    func size(_ sha256: String) throws -> Int
}

enum FileStorageError: Error, Equatable {
    case missing(String)
}

/// Files under `<data directory>/files/ab/cd/<sha256>`, written through a temporary file and renamed,
/// so a crash never leaves half a file under a real name.
struct LocalFileStorage: FileStorage {
    let root: String

    static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    func path(_ sha256: String) -> String {
        let hex = sha256.lowercased().filter(\.isHexDigit)
        guard hex.count == 64 else { return root + "/invalid" }
        let a = hex.prefix(2), b = hex.dropFirst(2).prefix(2)
        return "\(root)/\(a)/\(b)/\(hex)"
    }

    func put(_ data: Data) throws -> String {
        let hash = Self.sha256(data)
        let target = path(hash)
        let manager = FileManager.default
        if manager.fileExists(atPath: target) { return hash }
        let directory = (target as NSString).deletingLastPathComponent
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = directory + "/.upload-" + UUID().uuidString
        try data.write(to: URL(fileURLWithPath: temporary))
        if manager.fileExists(atPath: target) {
            try? manager.removeItem(atPath: temporary)
        } else {
            try manager.moveItem(atPath: temporary, toPath: target)
        }
        return hash
    }

    func read(_ sha256: String, offset: Int, length: Int?) throws -> Data {
        guard let handle = FileHandle(forReadingAtPath: path(sha256)) else { throw FileStorageError.missing(sha256) }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(max(0, offset)))
        if let length { return try handle.read(upToCount: length) ?? Data() }
        return try handle.readToEnd() ?? Data()
    }

    func size(_ sha256: String) throws -> Int {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path(sha256)),
              let size = attributes[.size] as? NSNumber else { throw FileStorageError.missing(sha256) }
        return size.intValue
    }
}

struct FileStorageKey: StorageKey { typealias Value = any FileStorage }

extension Application {
    /// The platform's file store: local disk under the data directory unless replaced (tests use a temporary folder).
    var fileStorage: any FileStorage {
        get {
            if let storage = storage[FileStorageKey.self] { return storage }
            let root: String
            if environment == .testing && Environment.get("INTERBA_DATA_DIR") == nil {
                root = NSTemporaryDirectory() + "interba-test-files"
            } else {
                root = config.dataDirectory + "/files"
            }
            let local = LocalFileStorage(root: root)
            storage[FileStorageKey.self] = local
            return local
        }
        set { storage[FileStorageKey.self] = newValue }
    }
}
