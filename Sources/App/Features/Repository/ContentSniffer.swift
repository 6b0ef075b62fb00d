import Foundation

/// A file type recognised from a file's bytes.
struct SniffedType: Equatable, Sendable {
    /// The media type to store and serve the file with.
    var mediaType: String
    /// File-name extensions (lower case, no dot) that agree with this type; the first is the usual one.
    var extensions: [String]
    /// A short human-readable name ("PDF", "Word document").
    var label: String
}

extension SniffedType {
    static let pdf = SniffedType(mediaType: "application/pdf", extensions: ["pdf"], label: "PDF")
    static let png = SniffedType(mediaType: "image/png", extensions: ["png"], label: "PNG image")
    static let jpeg = SniffedType(mediaType: "image/jpeg", extensions: ["jpg", "jpeg", "jpe"], label: "JPEG image")
    static let gif = SniffedType(mediaType: "image/gif", extensions: ["gif"], label: "GIF image")
    static let webp = SniffedType(mediaType: "image/webp", extensions: ["webp"], label: "WebP image")
    static let mp4 = SniffedType(mediaType: "video/mp4", extensions: ["mp4", "m4v"], label: "MP4 video")
    static let m4a = SniffedType(mediaType: "audio/mp4", extensions: ["m4a", "m4b"], label: "MP4 audio")
    static let quickTime = SniffedType(mediaType: "video/quicktime", extensions: ["mov"], label: "QuickTime video")
    static let mp3 = SniffedType(mediaType: "audio/mpeg", extensions: ["mp3"], label: "MP3 audio")
    static let docx = SniffedType(mediaType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                                  extensions: ["docx"], label: "Word document")
    static let xlsx = SniffedType(mediaType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                  extensions: ["xlsx"], label: "Excel spreadsheet")
    static let pptx = SniffedType(mediaType: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                                  extensions: ["pptx"], label: "PowerPoint presentation")
    static let odt = SniffedType(mediaType: "application/vnd.oasis.opendocument.text", extensions: ["odt"],
                                 label: "OpenDocument text")
    static let ods = SniffedType(mediaType: "application/vnd.oasis.opendocument.spreadsheet", extensions: ["ods"],
                                 label: "OpenDocument spreadsheet")
    static let odp = SniffedType(mediaType: "application/vnd.oasis.opendocument.presentation", extensions: ["odp"],
                                 label: "OpenDocument presentation")
    static let epub = SniffedType(mediaType: "application/epub+zip", extensions: ["epub"], label: "EPUB book")
    static let zip = SniffedType(mediaType: "application/zip", extensions: ["zip"], label: "ZIP archive")
    static let html = SniffedType(mediaType: "text/html", extensions: ["html", "htm"], label: "HTML page")
    static let csv = SniffedType(mediaType: "text/csv; charset=utf-8", extensions: ["csv"], label: "CSV table")
    static let markdown = SniffedType(mediaType: "text/markdown; charset=utf-8", extensions: ["md", "markdown"],
                                      label: "Markdown text")
    static let plainText = SniffedType(mediaType: "text/plain; charset=utf-8", extensions: ["txt", "text"],
                                       label: "Plain text")
}

/// Tells a file's real type from its bytes, never from what the client claims.
///
/// Recognised: PDF, PNG, JPEG, GIF, WebP, MP4 (and M4A/QuickTime by their `ftyp` brand), MP3, DOCX/XLSX/PPTX
/// (by their `word/`, `xl/`, `ppt/` entries), ODT/ODS/ODP and EPUB (by the stored `mimetype` entry), other ZIP
/// archives, HTML, and text (valid UTF-8, optionally with a BOM, or UTF-16 with a BOM; no NUL in the first
/// 8 KiB). Text is reported as plain text by `sniff`; `check` calls it CSV or Markdown by the file's extension.
/// SVG (which can carry script) and everything else is unknown (nil). ZIP archives are read from their own
/// central directory; nothing is decompressed.
enum ContentSniffer {
    /// The type of `data`, or nil when it is empty, unknown or unsupported.
    static func sniff(_ data: Data) -> SniffedType? {
        classify(data)?.type
    }

    /// The sniffed type, and nil when the file name's extension agrees with the content or else a reason code:
    /// `"empty"` (no bytes), `"unknown-type"` (type is then nil) or `"extension-mismatch"` (type is the
    /// sniffed one, so the caller can suggest the right extension). Extensions compare case-insensitively.
    /// Text is CSV for `.csv` and Markdown for `.md`/`.markdown`; a Markdown file may carry HTML tags as
    /// long as it does not start as an HTML document.
    static func check(filename: String, data: Data) -> (type: SniffedType?, problem: String?) {
        guard !data.isEmpty else { return (nil, "empty") }
        guard let (sniffed, weakHTML) = classify(data) else { return (nil, "unknown-type") }
        let ext = fileExtension(filename)
        var type = sniffed
        if type == .plainText || (weakHTML && type == .html && SniffedType.markdown.extensions.contains(ext)) {
            if SniffedType.csv.extensions.contains(ext) { type = .csv }
            if SniffedType.markdown.extensions.contains(ext) { type = .markdown }
        }
        return type.extensions.contains(ext) ? (type, nil) : (type, "extension-mismatch")
    }

    /// The lower-cased extension of the last path component of `filename` ("" when it has none).
    static func fileExtension(_ filename: String) -> String {
        let trimmed = filename.trimmingCharacters(in: .whitespacesAndNewlines)
        let name = trimmed.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? trimmed
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
        return String(name[name.index(after: dot)...]).lowercased()
    }

    // MARK: - Classification

    /// The type, and whether an HTML verdict rests only on an `<html`/`<body` tag somewhere in the first KiB.
    private static func classify(_ data: Data) -> (type: SniffedType, weakHTML: Bool)? {
        let bytes = ByteReader(data)
        guard bytes.count > 0 else { return nil }

        if bytes.hasPrefix([0x25, 0x50, 0x44, 0x46, 0x2D]) { return (.pdf, false) }                      // %PDF-
        if bytes.hasPrefix([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return (.png, false) }
        if bytes.hasPrefix([0xFF, 0xD8, 0xFF]) { return (.jpeg, false) }
        if bytes.hasPrefix(Array("GIF87a".utf8)) || bytes.hasPrefix(Array("GIF89a".utf8)) { return (.gif, false) }
        if bytes.hasPrefix(Array("RIFF".utf8)), bytes.matches(Array("WEBP".utf8), at: 8) { return (.webp, false) }
        if bytes.matches(Array("ftyp".utf8), at: 4) {
            return isoMediaType(bytes).map { ($0, false) }
        }
        if bytes.hasPrefix([0x50, 0x4B, 0x03, 0x04]) || bytes.hasPrefix([0x50, 0x4B, 0x05, 0x06]) {
            return (zipType(bytes), false)
        }
        if isMP3(bytes) { return (.mp3, false) }
        return textType(data)
    }

    /// MP4 family by the major brand of the `ftyp` box; still-image brands (HEIF, AVIF) are not supported.
    private static func isoMediaType(_ bytes: ByteReader) -> SniffedType? {
        guard bytes.count >= 12, let size = bytes.uint32BE(at: 0), size >= 8 else { return nil }
        let brand = String(decoding: bytes.slice(8, 4), as: UTF8.self)
        switch brand {
        case "heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis": return nil
        case "M4A ", "M4B ", "M4P ": return .m4a
        case "qt  ": return .quickTime
        default: return .mp4
        }
    }

    /// An ID3v2 tag, or an MPEG-1/2/2.5 Layer III frame header.
    private static func isMP3(_ bytes: ByteReader) -> Bool {
        if bytes.hasPrefix(Array("ID3".utf8)), bytes.count >= 10, let major = bytes[3], major < 0xFF {
            return true
        }
        guard bytes.count >= 4, let b0 = bytes[0], let b1 = bytes[1], let b2 = bytes[2] else { return false }
        guard b0 == 0xFF, b1 & 0xE0 == 0xE0 else { return false }
        let version = (b1 >> 3) & 0x03      // 01 is reserved
        let layer = (b1 >> 1) & 0x03        // 01 is Layer III
        let bitrate = b2 >> 4               // 0000 free, 1111 bad
        let sampleRate = (b2 >> 2) & 0x03   // 11 reserved
        return version != 0x01 && layer == 0x01 && bitrate != 0x0F && bitrate != 0x00 && sampleRate != 0x03
    }

    // MARK: ZIP

    private static func zipType(_ bytes: ByteReader) -> SniffedType {
        let zip = ZipListing(bytes)
        if let mimetype = zip.storedContent(of: "mimetype") {
            let value = String(decoding: mimetype.prefix(200), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            switch value {
            case SniffedType.odt.mediaType: return .odt
            case SniffedType.ods.mediaType: return .ods
            case SniffedType.odp.mediaType: return .odp
            case SniffedType.epub.mediaType: return .epub
            default: break
            }
        }
        if zip.names.contains(where: { $0.hasPrefix("word/") }) { return .docx }
        if zip.names.contains(where: { $0.hasPrefix("xl/") }) { return .xlsx }
        if zip.names.contains(where: { $0.hasPrefix("ppt/") }) { return .pptx }
        return .zip
    }

    // MARK: Text and HTML

    private static func textType(_ data: Data) -> (type: SniffedType, weakHTML: Bool)? {
        let head: String
        if let textHead = textHead(data) {
            head = textHead
        } else {
            // Not valid text: only a plain-ASCII HTML start (legacy-encoded pages) is still recognised.
            let first = data.prefix(8192)
            guard !first.contains(0) else { return nil }
            head = String(decoding: first.prefix(1024).map { $0 < 0x80 ? $0 : 0x20 }, as: UTF8.self)
            return markupKind(head) == .strongHTML ? (.html, false) : nil
        }
        switch markupKind(head) {
        case .svg: return nil
        case .strongHTML: return (.html, false)
        case .weakHTML: return (.html, true)
        case .none: return (.plainText, false)
        }
    }

    /// The first KiB or so of `data` when it is text by the rules of `decodeText`, without decoding all of it.
    private static func textHead(_ data: Data) -> String? {
        let bytes = [UInt8](data.prefix(3))
        if bytes.count >= 2, (bytes[0] == 0xFE && bytes[1] == 0xFF) || (bytes[0] == 0xFF && bytes[1] == 0xFE) {
            return decodeText(data).map { String($0.prefix(1024)) }
        }
        var body = data[...]
        if bytes.count == 3, bytes == [0xEF, 0xBB, 0xBF] { body = data.dropFirst(3) }
        guard !body.prefix(8192).contains(0), isValidUTF8(body) else { return nil }
        return String(decoding: body.prefix(2048), as: UTF8.self)
    }

    /// Decoded text when `data` is UTF-8 (an optional BOM is dropped) or UTF-16 with a BOM, with no NUL
    /// in its first 8 KiB; nil otherwise.
    static func decodeText(_ data: Data) -> String? {
        let bytes = [UInt8](data.prefix(3))
        if bytes.count >= 2, (bytes[0] == 0xFE && bytes[1] == 0xFF) || (bytes[0] == 0xFF && bytes[1] == 0xFE) {
            let body = data.dropFirst(2)
            guard body.count % 2 == 0 else { return nil }
            let encoding: String.Encoding = bytes[0] == 0xFE ? .utf16BigEndian : .utf16LittleEndian
            guard let text = String(data: Data(body), encoding: encoding) else { return nil }
            guard !text.unicodeScalars.prefix(4096).contains("\u{0}") else { return nil }
            return text
        }
        var body = data[...]
        if bytes.count == 3, bytes == [0xEF, 0xBB, 0xBF] { body = data.dropFirst(3) }
        guard !body.prefix(8192).contains(0), isValidUTF8(body) else { return nil }
        return String(decoding: body, as: UTF8.self)
    }

    private static func isValidUTF8<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private enum MarkupKind { case none, svg, strongHTML, weakHTML }

    /// Looks past whitespace, XML declarations, processing instructions, comments and the doctype at the first
    /// element: `<svg` is SVG, `<html` (or an HTML doctype) is HTML; failing that, `<html` or `<body` anywhere
    /// in the head is (weakly) HTML.
    private static func markupKind(_ head: String) -> MarkupKind {
        let lower = head.lowercased()
        var rest = lower[...]
        while true {
            rest = rest.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" })
            if rest.hasPrefix("<?") {
                guard let end = rest.range(of: "?>") else { break }
                rest = rest[end.upperBound...]
            } else if rest.hasPrefix("<!--") {
                guard let end = rest.range(of: "-->") else { break }
                rest = rest[end.upperBound...]
            } else if rest.hasPrefix("<!doctype") {
                let declaration = rest.prefix(while: { $0 != ">" })
                let words = declaration.dropFirst("<!doctype".count).split(whereSeparator: { $0.isWhitespace || $0 == "[" })
                if let root = words.first {
                    if root == "svg" { return .svg }
                    if root == "html" { return .strongHTML }
                }
                guard let end = rest.firstIndex(of: ">") else { break }
                rest = rest[rest.index(after: end)...]
            } else {
                break
            }
        }
        if rest.hasPrefix("<svg") { return .svg }
        if rest.hasPrefix("<html") { return .strongHTML }
        if lower.contains("<html") || lower.contains("<body") { return .weakHTML }
        return .none
    }
}

// MARK: - Byte access

/// Bounds-checked little/big-endian reads from `Data` (whose indices need not start at 0).
private struct ByteReader {
    let data: Data
    var count: Int { data.count }

    init(_ data: Data) { self.data = data }

    subscript(offset: Int) -> UInt8? {
        guard offset >= 0, offset < data.count else { return nil }
        return data[data.startIndex + offset]
    }

    func slice(_ offset: Int, _ length: Int) -> Data {
        guard offset >= 0, length >= 0, offset <= data.count else { return Data() }
        let end = min(data.count, offset + length)
        return data.subdata(in: (data.startIndex + offset) ..< (data.startIndex + end))
    }

    func hasPrefix(_ prefix: [UInt8]) -> Bool { matches(prefix, at: 0) }

    func matches(_ pattern: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, offset + pattern.count <= data.count else { return false }
        for (index, byte) in pattern.enumerated() where data[data.startIndex + offset + index] != byte {
            return false
        }
        return true
    }

    func uint16LE(at offset: Int) -> Int? {
        guard let a = self[offset], let b = self[offset + 1] else { return nil }
        return Int(a) | Int(b) << 8
    }

    func uint32LE(at offset: Int) -> Int? {
        guard let a = uint16LE(at: offset), let b = uint16LE(at: offset + 2) else { return nil }
        return a | b << 16
    }

    func uint32BE(at offset: Int) -> Int? {
        guard let a = self[offset], let b = self[offset + 1], let c = self[offset + 2], let d = self[offset + 3] else {
            return nil
        }
        return Int(a) << 24 | Int(b) << 16 | Int(c) << 8 | Int(d)
    }
}

/// The entry names of a ZIP archive, read from its central directory (or, when that cannot be found, by
/// walking the local file headers from the start), without decompressing anything.
private struct ZipListing {
    struct Entry {
        var name: String
        var localHeaderOffset: Int
        /// Compression method and compressed size, from the central directory when there is one.
        var method: Int
        var compressedSize: Int
    }

    private let bytes: ByteReader
    private(set) var entries: [Entry] = []
    var names: [String] { entries.map(\.name) }

    private static let maxEntries = 20_000

    init(_ bytes: ByteReader) {
        self.bytes = bytes
        entries = readCentralDirectory() ?? walkLocalHeaders()
    }

    /// The content of an entry stored uncompressed (as an ODF or EPUB `mimetype` entry must be), at most 1 KiB.
    func storedContent(of name: String) -> Data? {
        guard let entry = entries.first(where: { $0.name == name }) else { return nil }
        let offset = entry.localHeaderOffset
        let size = entry.compressedSize
        guard entry.method == 0,
              bytes.matches([0x50, 0x4B, 0x03, 0x04], at: offset),
              let nameLength = bytes.uint16LE(at: offset + 26),
              let extraLength = bytes.uint16LE(at: offset + 28) else { return nil }
        return bytes.slice(offset + 30 + nameLength + extraLength, min(size, 1024))
    }

    private func readCentralDirectory() -> [Entry]? {
        // The end-of-central-directory record is in the last 22 + 65,535 bytes.
        let lowest = max(0, bytes.count - 22 - 65_535)
        var eocd = bytes.count - 22
        while eocd >= lowest, !bytes.matches([0x50, 0x4B, 0x05, 0x06], at: eocd) { eocd -= 1 }
        guard eocd >= lowest,
              let total = bytes.uint16LE(at: eocd + 10),
              let start = bytes.uint32LE(at: eocd + 16),
              start != 0xFFFF_FFFF, start < bytes.count else { return nil }
        var entries: [Entry] = []
        var offset = start
        for _ in 0 ..< min(total == 0xFFFF ? Self.maxEntries : total, Self.maxEntries) {
            guard bytes.matches([0x50, 0x4B, 0x01, 0x02], at: offset),
                  let nameLength = bytes.uint16LE(at: offset + 28),
                  let extraLength = bytes.uint16LE(at: offset + 30),
                  let commentLength = bytes.uint16LE(at: offset + 32),
                  let method = bytes.uint16LE(at: offset + 10),
                  let compressedSize = bytes.uint32LE(at: offset + 20),
                  let localOffset = bytes.uint32LE(at: offset + 42) else { break }
            let name = String(decoding: bytes.slice(offset + 46, nameLength), as: UTF8.self)
            entries.append(Entry(name: name, localHeaderOffset: localOffset, method: method,
                                 compressedSize: compressedSize))
            offset += 46 + nameLength + extraLength + commentLength
        }
        return entries.isEmpty ? nil : entries
    }

    private func walkLocalHeaders() -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        while entries.count < Self.maxEntries, bytes.matches([0x50, 0x4B, 0x03, 0x04], at: offset),
              let flags = bytes.uint16LE(at: offset + 6),
              let method = bytes.uint16LE(at: offset + 8),
              let compressedSize = bytes.uint32LE(at: offset + 18),
              let nameLength = bytes.uint16LE(at: offset + 26),
              let extraLength = bytes.uint16LE(at: offset + 28) {
            let name = String(decoding: bytes.slice(offset + 30, nameLength), as: UTF8.self)
            entries.append(Entry(name: name, localHeaderOffset: offset, method: method, compressedSize: compressedSize))
            // With a data descriptor (flag bit 3) the size is not known here: stop after this entry.
            guard flags & 0x08 == 0 || compressedSize > 0 else { break }
            offset += 30 + nameLength + extraLength + compressedSize
            if flags & 0x08 != 0 {
                // Skip the descriptor: optional signature, CRC-32, compressed and uncompressed sizes.
                offset += bytes.matches([0x50, 0x4B, 0x07, 0x08], at: offset) ? 16 : 12
            }
        }
        return entries
    }
}
