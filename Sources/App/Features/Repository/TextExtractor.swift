import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZIPFoundation

/// Plain text of uploaded files, for the search index.
///
/// Blocking: PDF extraction runs `pdftotext` for up to 20 seconds, so call this off the event loop
/// (e.g. from `app.threadPool` or a detached task).
enum TextExtractor {
    /// Plain text of the file, whitespace-collapsed, capped at `limit` characters; nil when nothing can be extracted.
    ///
    /// Runs of spaces and tabs become one space and runs of line breaks (with the spaces around them) one
    /// `\n`, so paragraphs stay on their own lines; control characters are dropped; the text is trimmed.
    /// Supported media types (parameters such as `; charset=` are ignored): `application/pdf` (through
    /// poppler's `pdftotext`; nil when it is not installed), DOCX (`word/document.xml`), ODT/ODS/ODP
    /// (`content.xml`), `text/html` and `application/xhtml+xml`, and `text/plain`, `text/markdown`, `text/csv`
    /// (UTF-8, or UTF-16 with a BOM). Everything else gives nil.
    static func extract(_ data: Data, mediaType: String, limit: Int = 200_000) -> String? {
        guard limit > 0, !data.isEmpty else { return nil }
        let type = mediaType.split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        let raw: String?
        switch type {
        case "application/pdf":
            raw = pdfText(data, limit: limit)
        case SniffedType.docx.mediaType:
            raw = zippedXMLText(data, entry: "word/document.xml", collector: XMLTextCollector(format: .ooxml, limit: limit))
        case SniffedType.odt.mediaType, SniffedType.ods.mediaType, SniffedType.odp.mediaType:
            raw = zippedXMLText(data, entry: "content.xml", collector: XMLTextCollector(format: .odf, limit: limit))
        case "text/html", "application/xhtml+xml":
            raw = htmlText(data)
        case "text/plain", "text/markdown", "text/x-markdown", "text/csv":
            raw = ContentSniffer.decodeText(data)
        default:
            raw = nil
        }
        guard let raw else { return nil }
        let text = collapseWhitespace(raw, limit: limit)
        return text.isEmpty ? nil : text
    }

    // MARK: - Whitespace

    static func collapseWhitespace(_ text: String, limit: Int) -> String {
        var output = ""
        var count = 0
        var pendingSpace = false
        var pendingNewline = false
        for character in text {
            if character.isNewline {
                pendingNewline = true
            } else if character.isWhitespace {
                pendingSpace = true
            } else if let scalar = character.unicodeScalars.first, scalar.properties.generalCategory == .control {
                continue
            } else {
                if count > 0, pendingNewline || pendingSpace {
                    guard count + 1 < limit else { break }
                    output.append(pendingNewline ? "\n" : " ")
                    count += 1
                }
                pendingSpace = false
                pendingNewline = false
                output.append(character)
                count += 1
                if count >= limit { break }
            }
        }
        return output
    }

    // MARK: - PDF

    private static let pdftotextCandidates = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext", "/opt/homebrew/bin/pdftotext"]
    private static let pdfTimeout: TimeInterval = 20

    /// The path of poppler's `pdftotext`, or nil when it is not installed.
    static var pdftotextPath: String? {
        pdftotextCandidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `pdftotext -enc UTF-8 -q <file> -` on a private temporary copy of the PDF.
    ///
    /// The PDF goes through a temporary file rather than stdin: writing to a child's stdin pipe raises SIGPIPE,
    /// which kills the server, if the child exits (or is killed on timeout) before reading all of it.
    private static func pdfText(_ data: Data, limit: Int) -> String? {
        guard let tool = pdftotextPath else { return nil }
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("interba-extract-\(UUID().uuidString).pdf")
        guard FileManager.default.createFile(atPath: file.path, contents: data,
                                             attributes: [.posixPermissions: 0o600]) else { return nil }
        defer { try? FileManager.default.removeItem(at: file) }
        // UTF-8 takes at most 4 bytes a character; keep room for the whitespace that collapses away.
        let maxOutput = min(Int.max / 16, limit) * 8 + 4096
        guard let result = run(tool, arguments: ["-enc", "UTF-8", "-q", file.path, "-"], timeout: pdfTimeout,
                               maxOutput: maxOutput) else { return nil }
        let text = String(decoding: result.output, as: UTF8.self)
        if result.status != 0, text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            return nil
        }
        return text
    }

    /// Runs `tool` with no stdin and stderr discarded, collecting at most `maxOutput` bytes of its stdout (the
    /// rest is read and dropped, so the tool never blocks on a full pipe). Returns nil when it cannot be started
    /// or does not finish within `timeout` seconds (it is then killed).
    static func run(_ tool: String, arguments: [String], timeout: TimeInterval,
                    maxOutput: Int = 64 << 20) -> (status: Int32, output: Data)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            return nil
        }
        let collected = OutputBuffer()
        let drained = DispatchSemaphore(value: 0)
        let reader = output.fileHandleForReading
        DispatchQueue.global(qos: .utility).async {
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                if collected.data.count < maxOutput {
                    collected.data.append(chunk.prefix(maxOutput - collected.data.count))
                }
            }
            drained.signal()
        }
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            // SIGKILL rather than SIGTERM: a child started from a thread that blocks signals (as Dispatch's
            // workers do) inherits that mask and would never see SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            _ = exited.wait(timeout: .now() + 2)
            // A grandchild may still hold the pipe open; do not wait for it.
            _ = drained.wait(timeout: .now() + 2)
            return nil
        }
        // The tool has exited; its stdout reaches end-of-file once any grandchildren are gone too.
        guard drained.wait(timeout: .now() + timeout) == .success else { return nil }
        return (process.terminationStatus, collected.data)
    }

    private final class OutputBuffer: @unchecked Sendable {
        var data = Data()
    }

    // MARK: - Zipped XML (DOCX, ODF)

    /// Decompressed entries larger than this are not read (a zip bomb guard).
    private static let maxXMLBytes = 64 << 20

    private struct TooLarge: Error {}

    private static func zippedXMLText(_ data: Data, entry path: String, collector: XMLTextCollector) -> String? {
        let archive: Archive
        do {
            archive = try Archive(data: data, accessMode: .read)
        } catch {
            return nil
        }
        guard let entry = archive[path], entry.type == .file, entry.uncompressedSize <= UInt64(maxXMLBytes) else {
            return nil
        }
        var xml = Data()
        do {
            _ = try archive.extract(entry, skipCRC32: true) { chunk in
                xml.append(chunk)
                if xml.count > maxXMLBytes { throw TooLarge() }
            }
        } catch {
            return nil
        }
        let parser = XMLParser(data: xml)
        parser.shouldResolveExternalEntities = false
        parser.shouldProcessNamespaces = false
        parser.delegate = collector
        collector.parser = parser
        _ = parser.parse()   // on a parse error (or our own abort at the limit) keep what was collected
        return collector.text
    }

    // MARK: - HTML

    private static let blockTags: Set<String> = [
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
        "ol", "option", "p", "pre", "section", "summary", "table", "title", "tr", "ul",
    ]
    private static let spacedTags: Set<String> = ["td", "th", "img", "input", "button", "label", "select", "textarea"]
    private static let skippedTags: Set<String> = ["script", "style", "template", "svg", "math", "iframe", "object"]

    /// Decodes HTML bytes (UTF-8 or UTF-16 with a BOM, else Windows-1252) and reduces them to text.
    private static func htmlText(_ data: Data) -> String? {
        let source = ContentSniffer.decodeText(data)
            ?? String(data: data, encoding: .windowsCP1252)
            ?? String(data: data, encoding: .isoLatin1)
        guard let source else { return nil }
        return htmlToText(source)
    }

    /// Drops comments and the contents of `<script>`, `<style>` (and similar) elements, strips tags (block
    /// elements become line breaks) and decodes character references.
    static func htmlToText(_ html: String) -> String {
        let s = Array(html.unicodeScalars)
        let n = s.count
        var out = String.UnicodeScalarView()
        var i = 0

        func isASCIILetter(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")
        }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            (c >= "A" && c <= "Z") ? Unicode.Scalar(c.value + 32)! : c
        }
        /// The index of the first case-insensitive match of the lower-case ASCII `pattern` at or after `from`.
        func find(_ pattern: String, from: Int) -> Int? {
            let p = Array(pattern.unicodeScalars)
            guard !p.isEmpty, from <= n - p.count else { return nil }
            var k = from
            while k <= n - p.count {
                var matched = true
                for (offset, c) in p.enumerated() where lower(s[k + offset]) != c {
                    matched = false
                    break
                }
                if matched { return k }
                k += 1
            }
            return nil
        }
        /// The index just past the `>` that closes the tag opened at `from`, honouring quoted attribute values.
        func endOfTag(from: Int) -> Int {
            var k = from
            var quote: Unicode.Scalar?
            while k < n {
                let c = s[k]
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == "\"" || c == "'" {
                    quote = c
                } else if c == ">" {
                    return k + 1
                }
                k += 1
            }
            return n
        }

        while i < n {
            let c = s[i]
            if c == "<", i + 1 < n {
                let next = s[i + 1]
                if next == "!" {
                    if i + 3 < n, s[i + 2] == "-", s[i + 3] == "-" {
                        i = find("-->", from: i + 4).map { $0 + 3 } ?? n
                    } else {
                        i = endOfTag(from: i + 2)          // <!doctype …>, <![CDATA[ … ]]> markers
                    }
                    continue
                }
                if next == "?" {
                    i = endOfTag(from: i + 2)
                    continue
                }
                let closing = next == "/"
                let nameStart = closing ? i + 2 : i + 1
                if nameStart < n, isASCIILetter(s[nameStart]) {
                    var nameEnd = nameStart
                    var name = ""
                    while nameEnd < n, isASCIILetter(s[nameEnd]) || (s[nameEnd] >= "0" && s[nameEnd] <= "9") {
                        name.unicodeScalars.append(lower(s[nameEnd]))
                        nameEnd += 1
                    }
                    i = endOfTag(from: nameEnd)
                    if !closing, skippedTags.contains(name) {
                        let selfClosed = i >= 2 && s[i - 1] == ">" && s[i - 2] == "/"
                        if !selfClosed {
                            if let close = find("</" + name, from: i) {
                                i = endOfTag(from: close + 2 + name.unicodeScalars.count)
                            } else {
                                i = n
                            }
                        }
                        out.append(" ")
                    } else if blockTags.contains(name) {
                        out.append("\n")
                    } else if spacedTags.contains(name) {
                        out.append(" ")
                    }
                    continue
                }
            }
            if c == "&", let (decoded, length) = characterReference(s, at: i) {
                out.append(contentsOf: decoded.unicodeScalars)
                i += length
                continue
            }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    /// The text of the character reference starting with `&` at `index`, and its length; nil when it is not one.
    private static func characterReference(_ s: [Unicode.Scalar], at index: Int) -> (String, Int)? {
        var k = index + 1
        let limit = min(s.count, index + 40)
        if k < limit, s[k] == "#" {
            k += 1
            var hex = false
            if k < limit, s[k] == "x" || s[k] == "X" {
                hex = true
                k += 1
            }
            var digits = ""
            while k < limit, hex ? s[k].properties.isASCIIHexDigit : (s[k] >= "0" && s[k] <= "9") {
                digits.unicodeScalars.append(s[k])
                k += 1
            }
            guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: hex ? 16 : 10) else { return nil }
            if k < s.count, s[k] == ";" { k += 1 }
            return (numericCharacter(value), k - index)
        }
        var name = ""
        while k < limit, (s[k] >= "a" && s[k] <= "z") || (s[k] >= "A" && s[k] <= "Z") || (s[k] >= "0" && s[k] <= "9") {
            name.unicodeScalars.append(s[k])
            k += 1
        }
        guard k < s.count, s[k] == ";", let value = namedEntities[name] else { return nil }
        return (String(Character(value)), k + 1 - index)
    }

    /// A numeric character reference's text, with HTML's Windows-1252 fix-ups for 0x80–0x9F.
    private static func numericCharacter(_ value: UInt32) -> String {
        if value >= 0x80, value <= 0x9F, let mapped = windows1252[value] {
            return String(Character(mapped))
        }
        guard value != 0, let scalar = Unicode.Scalar(value) else { return "\u{FFFD}" }
        return String(Character(scalar))
    }

    private static let windows1252: [UInt32: Unicode.Scalar] = [
        0x80: "\u{20AC}", 0x82: "\u{201A}", 0x83: "\u{0192}", 0x84: "\u{201E}", 0x85: "\u{2026}", 0x86: "\u{2020}",
        0x87: "\u{2021}", 0x88: "\u{02C6}", 0x89: "\u{2030}", 0x8A: "\u{0160}", 0x8B: "\u{2039}", 0x8C: "\u{0152}",
        0x8E: "\u{017D}", 0x91: "\u{2018}", 0x92: "\u{2019}", 0x93: "\u{201C}", 0x94: "\u{201D}", 0x95: "\u{2022}",
        0x96: "\u{2013}", 0x97: "\u{2014}", 0x98: "\u{02DC}", 0x99: "\u{2122}", 0x9A: "\u{0161}", 0x9B: "\u{203A}",
        0x9C: "\u{0153}", 0x9E: "\u{017E}", 0x9F: "\u{0178}",
    ]

    /// The HTML 4 named entities (Latin-1 in code-point order from U+00A0, plus the common symbols) and the
    /// HTML 5 names of the Latin Extended-A letters used in the region's languages.
    private static let namedEntities: [String: Unicode.Scalar] = {
        var table: [String: Unicode.Scalar] = [
            "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'",
            "OElig": "\u{0152}", "oelig": "\u{0153}", "Scaron": "\u{0160}", "scaron": "\u{0161}",
            "Yuml": "\u{0178}", "Zcaron": "\u{017D}", "zcaron": "\u{017E}", "fnof": "\u{0192}", "circ": "\u{02C6}",
            "tilde": "\u{02DC}", "ensp": "\u{2002}", "emsp": "\u{2003}", "thinsp": "\u{2009}", "zwnj": "\u{200C}",
            "zwj": "\u{200D}", "lrm": "\u{200E}", "rlm": "\u{200F}", "ndash": "\u{2013}", "mdash": "\u{2014}",
            "lsquo": "\u{2018}", "rsquo": "\u{2019}", "sbquo": "\u{201A}", "ldquo": "\u{201C}", "rdquo": "\u{201D}",
            "bdquo": "\u{201E}", "dagger": "\u{2020}", "Dagger": "\u{2021}", "bull": "\u{2022}", "hellip": "\u{2026}",
            "permil": "\u{2030}", "prime": "\u{2032}", "Prime": "\u{2033}", "lsaquo": "\u{2039}", "rsaquo": "\u{203A}",
            "oline": "\u{203E}", "euro": "\u{20AC}", "trade": "\u{2122}", "larr": "\u{2190}", "uarr": "\u{2191}",
            "rarr": "\u{2192}", "darr": "\u{2193}", "harr": "\u{2194}", "minus": "\u{2212}", "ne": "\u{2260}",
            "le": "\u{2264}", "ge": "\u{2265}", "infin": "\u{221E}", "asymp": "\u{2248}", "sum": "\u{2211}",
            "Ccaron": "\u{010C}", "ccaron": "\u{010D}", "Cacute": "\u{0106}", "cacute": "\u{0107}",
            "Dstrok": "\u{0110}", "dstrok": "\u{0111}", "Ecaron": "\u{011A}", "ecaron": "\u{011B}",
            "Rcaron": "\u{0158}", "rcaron": "\u{0159}", "Lstrok": "\u{0141}", "lstrok": "\u{0142}",
        ]
        let latin1 = """
            nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 \
            acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde \
            Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc \
            Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml \
            aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc \
            otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml
            """.split(separator: " ")
        for (offset, name) in latin1.enumerated() {
            table[String(name)] = Unicode.Scalar(UInt32(0xA0 + offset))!
        }
        return table
    }()
}

// MARK: - XML text collector

/// The SAX delegate that gathers the text of an office document, stopping once well past the limit.
///
/// One final class (not a subclass per format): on Linux, XMLParserDelegate is a plain Swift protocol, so
/// delegate methods declared only in a subclass would never be called.
private final class XMLTextCollector: NSObject, XMLParserDelegate {
    enum Format {
        /// WordprocessingML: the text of `w:t` runs; `w:tab` is a tab, `w:br`/`w:cr` a line break, `w:p` ends a line.
        case ooxml
        /// OpenDocument: every text node inside `text:p` and `text:h`, which end a line; `text:s` is a space,
        /// `text:tab` a tab and `text:line-break` a line break.
        case odf
    }

    let format: Format
    let limit: Int
    weak var parser: XMLParser?
    private(set) var text = ""
    private var scalars = 0
    private var depth = 0    // inside w:t (OOXML) or text:p/text:h (ODF)

    init(format: Format, limit: Int) {
        self.format = format
        self.limit = limit
    }

    private func append(_ string: String) {
        text += string
        scalars += string.unicodeScalars.count
        // Whitespace collapses later, so keep some headroom before giving up on the rest.
        if scalars > limit * 2 + 1024 { parser?.abortParsing() }
    }

    private static func localName(_ qualifiedName: String) -> Substring {
        if let colon = qualifiedName.lastIndex(of: ":") {
            return qualifiedName[qualifiedName.index(after: colon)...]
        }
        return qualifiedName[...]
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let name = Self.localName(elementName)
        switch format {
        case .ooxml:
            switch name {
            case "t": depth += 1
            case "tab": append("\t")
            case "br", "cr": append("\n")
            default: break
            }
        case .odf:
            switch name {
            case "p", "h":
                if depth > 0 { append("\n") }
                depth += 1
            case "s" where depth > 0: append(" ")
            case "tab" where depth > 0: append("\t")
            case "line-break" where depth > 0: append("\n")
            default: break
            }
        }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?) {
        let name = Self.localName(elementName)
        switch format {
        case .ooxml:
            if name == "t" { depth = max(0, depth - 1) }
            if name == "p" { append("\n") }
        case .odf:
            if name == "p" || name == "h" {
                depth = max(0, depth - 1)
                append("\n")
            }
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if depth > 0 { append(string) }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if depth > 0 { append(String(decoding: CDATABlock, as: UTF8.self)) }
    }
}
