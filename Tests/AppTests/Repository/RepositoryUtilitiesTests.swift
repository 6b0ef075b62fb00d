@testable import App
import Foundation
import Testing
import ZIPFoundation

// MARK: - Fixtures

/// An in-memory ZIP archive of text entries; `mimetype` is stored (as ODF and EPUB require), the rest deflated.
private func makeZip(_ entries: [(path: String, text: String)]) throws -> Data {
    let archive = try Archive(data: Data(), accessMode: .create)
    for entry in entries {
        let bytes = Data(entry.text.utf8)
        try archive.addEntry(with: entry.path, type: .file, uncompressedSize: Int64(bytes.count),
                             compressionMethod: entry.path == "mimetype" ? .none : .deflate) { position, size in
            bytes.subdata(in: Int(position) ..< Int(position) + size)
        }
    }
    return try #require(archive.data)
}

private func makeDocx(paragraphs xml: String) throws -> Data {
    try makeZip([
        ("[Content_Types].xml", #"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#),
        ("word/document.xml", """
            <?xml version="1.0" encoding="UTF-8" standalone="yes"?>
            <w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">
              <w:body>\(xml)</w:body>
            </w:document>
            """),
    ])
}

private func makeODT(body xml: String) throws -> Data {
    try makeZip([
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        ("content.xml", """
            <?xml version="1.0" encoding="UTF-8"?>
            <office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
                xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
                xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0">
              <office:automatic-styles><style:style style:name="P1" style:family="paragraph"/></office:automatic-styles>
              <office:body><office:text>\(xml)</office:text></office:body>
            </office:document-content>
            """),
        ("META-INF/manifest.xml", #"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>"#),
    ])
}

/// A one-page PDF that shows `text` (printable ASCII without parentheses or backslashes) in Helvetica.
private func makePDF(text: String) -> Data {
    let content = "BT /F1 24 Tf 72 700 Td (\(text)) Tj ET"
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        "<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream",
    ]
    var pdf = "%PDF-1.4\n"
    var offsets: [Int] = []
    for (index, object) in objects.enumerated() {
        offsets.append(pdf.utf8.count)
        pdf += "\(index + 1) 0 obj\n\(object)\nendobj\n"
    }
    let xref = pdf.utf8.count
    pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
    for offset in offsets {
        let digits = String(offset)
        pdf += String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n"
    }
    pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
    return Data(pdf.utf8)
}

private let pngHeader = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 0x49, 0x48, 0x44, 0x52])
private let pdfHeader = Data("%PDF-1.7\n%\u{E2}\u{E3}\n1 0 obj\n<< >>\nendobj\n".utf8)
private let pdftotextInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext")

// MARK: - ORCID

@Suite("ORCID iDs")
struct ORCIDTests {
    @Test("valid iDs normalise to the canonical form from every accepted spelling")
    func valid() {
        #expect(ORCID.normalise("0000-0002-1825-0097") == "0000-0002-1825-0097")
        #expect(ORCID.normalise("0000-0001-5109-3700") == "0000-0001-5109-3700")
        #expect(ORCID.normalise("0000-0002-1694-233X") == "0000-0002-1694-233X")
        #expect(ORCID.normalise("0000-0002-1694-233x") == "0000-0002-1694-233X")
        #expect(ORCID.normalise("https://orcid.org/0000-0002-1825-0097") == "0000-0002-1825-0097")
        #expect(ORCID.normalise("http://orcid.org/0000-0001-5109-3700") == "0000-0001-5109-3700")
        #expect(ORCID.normalise("orcid.org/0000-0002-1694-233X") == "0000-0002-1694-233X")
        #expect(ORCID.normalise("HTTPS://ORCID.ORG/0000-0002-1825-0097/") == "0000-0002-1825-0097")
        #expect(ORCID.normalise("  0000-0002-1825-0097 \n") == "0000-0002-1825-0097")
        #expect(ORCID.normalise("0000000218250097") == "0000-0002-1825-0097")
    }

    @Test("wrong check digits, lengths, letters and hosts are rejected")
    func invalid() {
        for input in ["0000-0002-1825-0098", "0000-0001-5109-3701", "0000-0002-1694-2330", "0000-0002-1825-009",
                      "0000-0002-1825-00970", "00000-002-1825-0097", "000A-0002-1825-0097", "0000-0002-1825-009Y",
                      "0000 0002 1825 0097", "abcd-efgh-ijkl-mnop", "", "   ", "https://example.org/0000-0002-1825-0097",
                      "0000-0002-1825-0097-0000", "０000-0002-1825-0097"] {
            #expect(ORCID.normalise(input) == nil, "\(input)")
        }
    }

    @Test("url")
    func url() {
        #expect(ORCID.url("0000-0002-1825-0097") == "https://orcid.org/0000-0002-1825-0097")
    }
}

// MARK: - Search queries

@Suite("Web-search query parsing")
struct SearchQueryTests {
    typealias Q = SearchQuery

    @Test("a single word")
    func singleWord() {
        let query = Q(parsing: "Kooperim")
        #expect(query.clauses == [.init(alternatives: [.word("kooperim")])])
        #expect(query.excluded.isEmpty)
        #expect(!query.isEmpty)
        #expect(query.fts5Expression() == #""kooperim""#)
        #expect(query.fts5Expression(prefix: true) == #""kooperim"*"#)
        #expect(query.websearchText() == "kooperim")
        #expect(query.postgresTSQuery() == "'kooperim'")
        #expect(query.postgresTSQuery(prefix: true) == "'kooperim':*")
        #expect(query.highlightWords == ["kooperim"])
    }

    @Test("an unclosed quote takes the rest as a phrase")
    func unclosedQuote() {
        let one = Q(parsing: #""unclosed"#)
        #expect(one.clauses == [.init(alternatives: [.phrase(["unclosed"])])])
        #expect(one.fts5Expression(prefix: true) == #""unclosed""#)
        #expect(one.websearchText() == #""unclosed""#)

        let more = Q(parsing: #"learning "global citizen"#)
        #expect(more.clauses == [.init(alternatives: [.word("learning")]),
                                 .init(alternatives: [.phrase(["global", "citizen"])])])
        #expect(more.fts5Expression() == #""learning" AND "global citizen""#)
        #expect(more.websearchText() == #"learning "global citizen""#)
    }

    @Test("operators alone, dangling or doubled are ignored")
    func danglingOperators() {
        for text in ["AND OR", "OR", "AND", "-", " - -- ", "OR OR AND", "\"\"", "-\"\"", "!!! ,,, ..."] {
            let query = Q(parsing: text)
            #expect(query.isEmpty, "\(text)")
            #expect(query.excluded.isEmpty, "\(text)")
            #expect(query.fts5Expression() == nil, "\(text)")
            #expect(query.websearchText() == "", "\(text)")
            #expect(query.highlightWords.isEmpty, "\(text)")
        }
        #expect(Q(parsing: "OR a OR OR b OR") == Q(clauses: [.init(alternatives: [.word("a"), .word("b")])]))
        #expect(Q(parsing: "a AND b") == Q(clauses: [.init(alternatives: [.word("a")]), .init(alternatives: [.word("b")])]))
        #expect(Q(parsing: "a OR AND b") == Q(clauses: [.init(alternatives: [.word("a"), .word("b")])]))
        #expect(Q(parsing: "a - b") == Q(parsing: "a b"))
        // An OR next to an exclusion has no positive term on one side.
        #expect(Q(parsing: "a OR -b c") == Q(clauses: [.init(alternatives: [.word("a")]), .init(alternatives: [.word("c")])],
                                           excluded: [.word("b")]))
    }

    @Test("OR groups and exclusions")
    func orAndExclusion() {
        let query = Q(parsing: "a OR b -c")
        #expect(query.clauses == [.init(alternatives: [.word("a"), .word("b")])])
        #expect(query.excluded == [.word("c")])
        #expect(query.fts5Expression() == #"("a" OR "b") NOT "c""#)
        #expect(query.fts5Expression(prefix: true) == #"("a"* OR "b"*) NOT "c""#)
        // websearch_to_tsquery binds AND tighter than OR, so every alternative carries the exclusion.
        #expect(query.websearchText() == "a -c OR b -c")
        #expect(query.postgresTSQuery() == "('a' | 'b') & !'c'")
        #expect(query.highlightWords == ["a", "b"])

        let mixed = Q(parsing: "x a OR b -c -\"d e\"")
        #expect(mixed.fts5Expression() == #"("x" AND ("a" OR "b")) NOT "c" NOT "d e""#)
        #expect(mixed.websearchText() == #"x a -c -"d e" OR x b -c -"d e""#)
        #expect(mixed.postgresTSQuery() == "'x' & ('a' | 'b') & !'c' & !('d' <-> 'e')")
    }

    @Test("an excluded word after a phrase")
    func phraseAndExclusion() {
        let query = Q(parsing: #""global citizenship" -erasmus"#)
        #expect(query.clauses == [.init(alternatives: [.phrase(["global", "citizenship"])])])
        #expect(query.excluded == [.word("erasmus")])
        #expect(query.fts5Expression() == #""global citizenship" NOT "erasmus""#)
        #expect(query.fts5Expression(prefix: true) == #""global citizenship" NOT "erasmus""#)
        #expect(query.websearchText() == #""global citizenship" -erasmus"#)
        #expect(query.postgresTSQuery() == "('global' <-> 'citizenship') & !'erasmus'")
        #expect(query.highlightWords == ["global", "citizenship"])

        let only = Q(parsing: "-erasmus")
        #expect(only.isEmpty)
        #expect(only.excluded == [.word("erasmus")])
        #expect(only.fts5Expression() == nil)
        #expect(only.websearchText() == "")
    }

    @Test("input is capped at 256 characters and 16 terms")
    func longQueries() {
        let words = (0 ..< 2_000).map { "w\($0)" }.joined(separator: " ")
        #expect(words.count > 10_000)
        let query = Q(parsing: words)
        #expect(query.clauses.count == 16)
        #expect(query.clauses.last == .init(alternatives: [.word("w15")]))

        let oneWord = Q(parsing: String(repeating: "a", count: 10_000))
        #expect(oneWord.clauses == [.init(alternatives: [.word(String(repeating: "a", count: 256))])])

        let quotes = Q(parsing: String(repeating: "\"-OR ", count: 2_000))
        #expect((quotes.fts5Expression() ?? "").filter { $0 == "\"" }.count % 2 == 0)
    }

    @Test("Cyrillic and Latin diacritics are single lower-cased words, diacritics kept")
    func unicodeWords() {
        let cyrillic = Q(parsing: "учење РАЗВОЈ")
        #expect(cyrillic.clauses == [.init(alternatives: [.word("учење")]), .init(alternatives: [.word("развој")])])
        #expect(cyrillic.fts5Expression() == #""учење" AND "развој""#)
        #expect(cyrillic.fts5Expression(prefix: true) == #""учење"* AND "развој"*"#)
        #expect(cyrillic.websearchText() == "учење развој")

        let latin = Q(parsing: "Učenje Shqipërisë çështje")
        #expect(latin.highlightWords == ["učenje", "shqipërisë", "çështje"])
    }

    @Test("words joined by hyphens and the like are phrases; other punctuation splits")
    func joinedWords() {
        let query = Q(parsing: "e-learning")
        #expect(query.clauses == [.init(alternatives: [.phrase(["e", "learning"])])])
        #expect(query.fts5Expression() == #""e learning""#)
        #expect(query.fts5Expression(prefix: true) == #""e learning""#)
        #expect(query.websearchText() == #""e learning""#)
        #expect(query.highlightWords == ["e", "learning"])

        #expect(Q(parsing: "(razvoj), kooperim!").clauses == [.init(alternatives: [.word("razvoj")]),
                                                              .init(alternatives: [.word("kooperim")])])
        #expect(Q(parsing: "razvoj,kooperim").clauses.count == 2)
        #expect(Q(parsing: "don't").clauses == [.init(alternatives: [.phrase(["don", "t"])])])
        #expect(Q(parsing: "-e-learning").excluded == [.phrase(["e", "learning"])])
    }

    @Test("PostgreSQL gets joined words as typed where its parser keeps them whole")
    func typedForms() {
        let version = Q(parsing: "Industry 4.0")
        #expect(version == Q(clauses: [.init(alternatives: [.word("industry")]), .init(alternatives: [.phrase(["4", "0"])])]))
        #expect(version.fts5Expression() == #""industry" AND "4 0""#)
        #expect(version.websearchText() == #"industry "4.0""#)
        #expect(version.postgresTSQuery() == "'industry' & '4.0'")

        let mixed = Q(parsing: "covid-19 OR U.S.A. -www.example.com e-learning")
        #expect(mixed.fts5Expression() == #"(("covid 19" OR "u s a") AND "e learning") NOT "www example com""#)
        #expect(mixed.websearchText()
                == #""covid-19" "e learning" -"www.example.com" OR "u.s.a" "e learning" -"www.example.com""#)
        #expect(mixed.postgresTSQuery() == "('covid-19' | 'u.s.a') & ('e' <-> 'learning') & !'www.example.com'")
        #expect(Q(parsing: "don't").postgresTSQuery() == "'don''t'")
        let folded = Q(parsing: "Učenje.pdf").mappingWords { $0.replacingOccurrences(of: "č", with: "c") }
        #expect(folded.websearchText() == #""ucenje.pdf""#)
    }

    @Test("lower-case or/and are words; nothing the user types can inject engine syntax")
    func noInjection() {
        let query = Q(parsing: "black or white and NEAR(x) col:y ^z *w")
        #expect(query.highlightWords == ["black", "or", "white", "and", "near", "x", "col", "y", "z", "w"])
        #expect(query.websearchText().contains(#""or""#))
        for text in [#"a"b"c"#, #"""x"""#, "\"'; DROP TABLE x; --", "a OR \"", "\\\"a\\\""] {
            let expression = Q(parsing: text).fts5Expression() ?? ""
            #expect(expression.filter { $0 == "\"" }.count % 2 == 0, "\(text)")
            #expect(!expression.contains("'"), "\(text)")
        }
        let folded = Q(parsing: "Učenje OR razvoj -čaj").mappingWords { $0.replacingOccurrences(of: "č", with: "c") }
        #expect(folded.fts5Expression() == #"("ucenje" OR "razvoj") NOT "caj""#)
        #expect(Q(parsing: "a OR b").mappingWords { $0 == "a" ? "" : $0 }.fts5Expression() == #""b""#)
        #expect(Q(parsing: "a a OR b b OR a").clauses == [.init(alternatives: [.word("a")]),
                                                          .init(alternatives: [.word("a"), .word("b")])])
    }
}

// MARK: - Content sniffing

@Suite("Content sniffing")
struct ContentSnifferTests {
    @Test("PDF and PNG by their signatures; the extension must agree")
    func signatures() {
        #expect(ContentSniffer.sniff(pdfHeader) == .pdf)
        #expect(ContentSniffer.sniff(pngHeader)?.mediaType == "image/png")
        #expect(ContentSniffer.check(filename: "Report.PDF", data: pdfHeader).problem == nil)
        let pngAsPDF = ContentSniffer.check(filename: "report.pdf", data: pngHeader)
        #expect(pngAsPDF.type == .png)
        #expect(pngAsPDF.problem == "extension-mismatch")
        let pdfAsText = ContentSniffer.check(filename: "notes.txt", data: pdfHeader)
        #expect(pdfAsText.type == .pdf)
        #expect(pdfAsText.problem == "extension-mismatch")
    }

    @Test("images, audio and video")
    func media() {
        let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46])
        #expect(ContentSniffer.check(filename: "photo.jpeg", data: jpeg).problem == nil)
        #expect(ContentSniffer.check(filename: "photo.JPG", data: jpeg).problem == nil)
        #expect(ContentSniffer.sniff(Data("GIF89a\u{1}\u{0}".utf8)) == .gif)
        #expect(ContentSniffer.sniff(Data("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)) == .webp)
        #expect(ContentSniffer.sniff(Data("RIFF\u{0}\u{0}\u{0}\u{0}WAVEfmt ".utf8)) == nil)
        #expect(ContentSniffer.sniff(Data([0, 0, 0, 0x18]) + Data("ftypisom\u{0}\u{0}\u{2}\u{0}".utf8)) == .mp4)
        #expect(ContentSniffer.sniff(Data([0, 0, 0, 0x18]) + Data("ftypheic\u{0}\u{0}\u{0}\u{0}".utf8)) == nil)
        #expect(ContentSniffer.sniff(Data("ID3\u{4}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}".utf8)) == .mp3)
        #expect(ContentSniffer.sniff(Data([0xFF, 0xFB, 0x90, 0x64, 0x00])) == .mp3)
        #expect(ContentSniffer.sniff(Data([0xFF, 0xF1, 0x50, 0x80, 0x00])) == nil)   // AAC ADTS, not MP3
    }

    @Test("ZIP-based documents are told apart by their entries")
    func zips() throws {
        let docx = try makeDocx(paragraphs: "<w:p><w:r><w:t>x</w:t></w:r></w:p>")
        #expect(ContentSniffer.sniff(docx) == .docx)
        #expect(ContentSniffer.check(filename: "plan.docx", data: docx).problem == nil)
        #expect(ContentSniffer.check(filename: "plan.zip", data: docx).problem == "extension-mismatch")

        let plain = try makeZip([("notes/readme.txt", "hello")])
        #expect(ContentSniffer.sniff(plain) == .zip)
        let fake = ContentSniffer.check(filename: "plan.docx", data: plain)
        #expect(fake.type == .zip)
        #expect(fake.problem == "extension-mismatch")

        #expect(ContentSniffer.sniff(try makeZip([("xl/workbook.xml", "<x/>")])) == .xlsx)
        #expect(ContentSniffer.sniff(try makeZip([("ppt/presentation.xml", "<x/>")])) == .pptx)
        let odt = try makeODT(body: "<text:p>x</text:p>")
        #expect(ContentSniffer.sniff(odt) == .odt)
        #expect(ContentSniffer.check(filename: "plan.odt", data: odt).problem == nil)
        #expect(ContentSniffer.sniff(try makeZip([("mimetype", "application/vnd.oasis.opendocument.spreadsheet")])) == .ods)
        #expect(ContentSniffer.sniff(try makeZip([("mimetype", "application/epub+zip"),
                                                  ("META-INF/container.xml", "<x/>")])) == .epub)
    }

    @Test("empty and unknown files")
    func emptyAndUnknown() {
        let empty = ContentSniffer.check(filename: "a.txt", data: Data())
        #expect(empty.type == nil)
        #expect(empty.problem == "empty")
        #expect(ContentSniffer.sniff(Data()) == nil)
        let binary = Data([0x00, 0x01, 0x02, 0x03, 0xFE, 0x00, 0x41])
        #expect(ContentSniffer.check(filename: "a.bin", data: binary).problem == "unknown-type")
        #expect(ContentSniffer.sniff(Data([0x41, 0x42, 0xC3, 0x28])) == nil)       // invalid UTF-8
        let svg = Data(#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.utf8)
        #expect(ContentSniffer.check(filename: "logo.svg", data: svg).problem == "unknown-type")
        #expect(ContentSniffer.sniff(Data("<!-- c -->\n<svg><rect/></svg>".utf8)) == nil)
    }

    @Test("HTML is recognised so that it cannot pass as text")
    func html() {
        let page = Data("\u{FEFF}  <!DOCTYPE html>\n<html><body><p>Učenje</p></body></html>".utf8)
        #expect(ContentSniffer.sniff(page) == .html)
        #expect(ContentSniffer.check(filename: "page.htm", data: page).problem == nil)
        #expect(ContentSniffer.check(filename: "page.HTML", data: page).problem == nil)
        #expect(ContentSniffer.check(filename: "page.txt", data: page).problem == "extension-mismatch")
        #expect(ContentSniffer.sniff(Data("<HTML lang=sq>".utf8)) == .html)
        #expect(ContentSniffer.sniff(Data("Heading\n<div><body onload=x()>".utf8)) == .html)
        // Legacy-encoded (not UTF-8) pages are still HTML.
        #expect(ContentSniffer.sniff(Data([0x3C, 0x68, 0x74, 0x6D, 0x6C, 0x3E, 0xEB, 0x3C, 0x2F, 0x68, 0x74, 0x6D, 0x6C, 0x3E])) == .html)
        // Markdown may carry HTML tags, but not be an HTML document.
        let markdown = Data("# Title\n\nUse `<body>` for the page.\n".utf8)
        #expect(ContentSniffer.check(filename: "guide.md", data: markdown).type == .markdown)
        #expect(ContentSniffer.check(filename: "guide.md", data: markdown).problem == nil)
        #expect(ContentSniffer.check(filename: "page.md", data: page).problem == "extension-mismatch")
    }

    @Test("text: UTF-8 (BOM allowed) or UTF-16 with a BOM; CSV and Markdown by extension")
    func text() {
        let utf8 = Data("Učenje, kooperim; развој\n".utf8)
        #expect(ContentSniffer.sniff(utf8) == .plainText)
        #expect(ContentSniffer.sniff(utf8)?.mediaType == "text/plain; charset=utf-8")
        #expect(ContentSniffer.check(filename: "notes.TXT", data: utf8).problem == nil)
        #expect(ContentSniffer.check(filename: "notes.txt", data: Data([0xEF, 0xBB, 0xBF]) + utf8).problem == nil)
        #expect(ContentSniffer.check(filename: "table.csv", data: utf8).type == .csv)
        #expect(ContentSniffer.check(filename: "table.csv", data: utf8).problem == nil)
        #expect(ContentSniffer.check(filename: "readme.md", data: utf8).type == .markdown)
        #expect(ContentSniffer.check(filename: "readme.md", data: utf8).problem == nil)
        #expect(ContentSniffer.check(filename: "notes.pdf", data: utf8).problem == "extension-mismatch")
        #expect(ContentSniffer.check(filename: "notes", data: utf8).problem == "extension-mismatch")

        var utf16 = Data([0xFF, 0xFE])
        utf16.append("Shqipëri".data(using: .utf16LittleEndian)!)
        #expect(ContentSniffer.check(filename: "a.txt", data: utf16).problem == nil)
        #expect(ContentSniffer.sniff("Shqipëri".data(using: .utf16LittleEndian)!) == nil)   // no BOM: NUL bytes
        #expect(ContentSniffer.sniff(Data("abc\u{0}def".utf8)) == nil)
    }

    @Test("file extensions")
    func extensions() {
        #expect(ContentSniffer.fileExtension("a/b/Report.Final.PDF") == "pdf")
        #expect(ContentSniffer.fileExtension("C:\\x\\notes.txt ") == "txt")
        #expect(ContentSniffer.fileExtension(".bashrc") == "")
        #expect(ContentSniffer.fileExtension("README") == "")
    }
}

// MARK: - Text extraction

@Suite("Text extraction")
struct TextExtractorTests {
    @Test("DOCX: the text of w:t runs, one line per paragraph")
    func docx() throws {
        let docx = try makeDocx(paragraphs: """
            <w:p><w:r><w:t>Koo</w:t></w:r><w:r><w:t xml:space="preserve">perim &amp; </w:t></w:r><w:r><w:t>učenje</w:t></w:r></w:p>
            <w:p><w:r><w:instrText> PAGE </w:instrText><w:t>Drugi</w:t><w:tab/><w:t>red</w:t></w:r></w:p>
            """)
        let text = TextExtractor.extract(docx, mediaType: SniffedType.docx.mediaType)
        #expect(text == "Kooperim & učenje\nDrugi red")
        #expect(TextExtractor.extract(docx, mediaType: SniffedType.docx.mediaType, limit: 8) == "Kooperim")
        #expect(TextExtractor.extract(try makeZip([("a.txt", "x")]), mediaType: SniffedType.docx.mediaType) == nil)
        #expect(TextExtractor.extract(Data("not a zip".utf8), mediaType: SniffedType.docx.mediaType) == nil)
    }

    @Test("ODT: all text inside text:p and text:h")
    func odt() throws {
        let odt = try makeODT(body: """
            <text:h text:outline-level="1">Razvoj</text:h>
            <text:p text:style-name="P1">Global<text:s/><text:span>citizenship</text:span> &lt;ok&gt;</text:p>
            <text:list><text:list-item><text:p>Shqipëri</text:p></text:list-item></text:list>
            """)
        #expect(TextExtractor.extract(odt, mediaType: "application/vnd.oasis.opendocument.text")
                == "Razvoj\nGlobal citizenship <ok>\nShqipëri")
    }

    @Test("HTML: scripts, styles and comments dropped, tags stripped, entities decoded")
    func html() {
        let html = """
            <!DOCTYPE html><html><head><title>Naslov</title><style>p { color: red }</style>
            <script type="text/javascript">var s = "<p>hidden</p>"; if (a < b) {}</script></head>
            <body><!-- a <p>comment</p> --><h1 class="x">Učenje &amp; razvoj</h1>
            <p>Za&nbsp;sve: &#x10D;&#263; &euml;&ccedil; &lt;tag&gt; &quot;q&quot; &#150; &bogus; a&b</p>
            <p><b>Ko</b>operim<br>novi red</p><SCRIPT>alert(1)</SCRIPT></body></html>
            """
        let text = TextExtractor.extract(Data(html.utf8), mediaType: "text/html; charset=utf-8")
        #expect(text == "Naslov\nUčenje & razvoj\nZa sve: čć ëç <tag> \"q\" \u{2013} &bogus; a&b\nKooperim\nnovi red")
        #expect(text?.contains("hidden") == false)
        #expect(text?.contains("alert") == false)
        #expect(text?.contains("comment") == false)
        #expect(TextExtractor.extract(Data("<p>caf\u{E9}</p>".utf8), mediaType: "text/html") == "café")
        #expect(TextExtractor.extract(Data([0x3C, 0x70, 0x3E, 0xEB, 0x3C, 0x2F, 0x70, 0x3E]), mediaType: "text/html") == "ë")
    }

    @Test("plain text, Markdown and CSV are decoded and whitespace-collapsed")
    func text() {
        #expect(TextExtractor.extract(Data("  Učenje \t  i\r\n\r\n\n razvoj  ".utf8), mediaType: "text/plain") == "Učenje i\nrazvoj")
        #expect(TextExtractor.extract(Data("# Naslov\n\n*tekst*".utf8), mediaType: "text/markdown; charset=utf-8") == "# Naslov\n*tekst*")
        #expect(TextExtractor.extract(Data("a,b\n1,2\n".utf8), mediaType: "text/csv") == "a,b\n1,2")
        var utf16 = Data([0xFE, 0xFF])
        utf16.append("развој".data(using: .utf16BigEndian)!)
        #expect(TextExtractor.extract(utf16, mediaType: "text/plain") == "развој")
        #expect(TextExtractor.extract(Data(String(repeating: "ab ", count: 100_000).utf8), mediaType: "text/plain")?.count == 200_000)
        #expect(TextExtractor.extract(Data("   \n ".utf8), mediaType: "text/plain") == nil)
        #expect(TextExtractor.extract(Data([0x41, 0xC3, 0x28]), mediaType: "text/plain") == nil)
    }

    @Test("other types give nil")
    func unsupported() {
        #expect(TextExtractor.extract(pngHeader, mediaType: "image/png") == nil)
        #expect(TextExtractor.extract(Data("x".utf8), mediaType: "application/octet-stream") == nil)
        #expect(TextExtractor.extract(Data(), mediaType: "text/plain") == nil)
    }

    @Test("external tools: output drained past the pipe buffer and capped; a hung tool is stopped")
    func externalTools() throws {
        let big = try #require(TextExtractor.run("/bin/sh", arguments: ["-c", "head -c 300000 /dev/zero | tr '\\0' x"],
                                                 timeout: 20))
        #expect(big.status == 0)
        #expect(big.output.count == 300_000)
        let capped = try #require(TextExtractor.run("/bin/sh", arguments: ["-c", "head -c 300000 /dev/zero"],
                                                    timeout: 20, maxOutput: 1000))
        #expect(capped.output.count == 1000)
        let started = Date()
        #expect(TextExtractor.run("/bin/sleep", arguments: ["30"], timeout: 0.5) == nil)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(TextExtractor.run("/nonexistent/tool", arguments: [], timeout: 1) == nil)
    }

    @Test("PDF through pdftotext", .enabled(if: pdftotextInstalled, "needs /usr/bin/pdftotext (poppler-utils)"))
    func pdf() {
        let pdf = makePDF(text: "Kooperim learning")
        #expect(ContentSniffer.sniff(pdf) == .pdf)
        #expect(TextExtractor.extract(pdf, mediaType: "application/pdf") == "Kooperim learning")
        #expect(TextExtractor.extract(Data("%PDF-1.4\nbroken".utf8), mediaType: "application/pdf") == nil)
    }
}

@Suite("Facet lists and their tally")
struct FacetTallyTests {
    func counts(_ tally: FacetTally) -> [String: [String]] {
        tally.facets.mapValues { $0.map { "\($0.value)=\($0.count)" } }
    }

    @Test("encoding sorts, drops duplicates and strips the separators from values")
    func encoding() {
        let list = FacetLists.encode([("language", "sq"), ("area", "A4"), ("area", "A4"), ("year", "20\u{1E}24\u{1F}")])
        #expect(list == "area\u{1F}A4\u{1E}language\u{1F}sq\u{1E}year\u{1F}2024")
    }

    @Test("without filters every value of every document counts")
    func noFilters() {
        var tally = FacetTally(filters: [:])
        let documents = [
            FacetLists.encode([("area", "A4"), ("area", "A1"), ("language", "en")]),
            FacetLists.encode([("area", "A4"), ("language", "sq")]),
            "",
            FacetLists.encode([("language", "en"), ("year", "2024")]),
        ]
        tally.add(documents.joined(separator: "\u{1D}"))
        #expect(counts(tally) == ["area": ["A4=2", "A1=1"], "language": ["en=2", "sq=1"], "year": ["2024=1"]])
    }

    @Test("a filtered facet counts the documents that match the other filters; a document missing two filters counts nowhere")
    func ownFilterLeftOut() {
        var tally = FacetTally(filters: ["area": ["A4"], "language": ["en", "sq"]])
        let documents = [
            // Matches both: every value counts.
            FacetLists.encode([("area", "A4"), ("language", "en"), ("year", "2024")]),
            // Misses the area: counts only for the area facet (its alternatives).
            FacetLists.encode([("area", "A2"), ("language", "sq"), ("year", "2023")]),
            // Misses the language: counts only for the language facet.
            FacetLists.encode([("area", "A4"), ("language", "mk"), ("year", "2022")]),
            // Misses both: nowhere.
            FacetLists.encode([("area", "A9"), ("language", "hr"), ("year", "2021")]),
        ]
        // Two aggregates (two statements' results) add up.
        tally.add(documents[0...1].joined(separator: "\u{1D}"))
        tally.add(documents[2...3].joined(separator: "\u{1D}"))
        #expect(counts(tally) == ["area": ["A2=1", "A4=1"], "language": ["en=1", "mk=1"], "year": ["2024=1"]])
    }

    @Test("values with non-ASCII letters and long licence identifiers")
    func unicode() {
        var tally = FacetTally(filters: ["licence": ["CC-BY-NC-SA-4.0"]])
        tally.add([
            FacetLists.encode([("licence", "CC-BY-NC-SA-4.0"), ("type", "udhëzues")]),
            FacetLists.encode([("licence", "CC-BY-4.0"), ("type", "упатство")]),
        ].joined(separator: "\u{1D}"))
        #expect(counts(tally) == ["licence": ["CC-BY-4.0=1", "CC-BY-NC-SA-4.0=1"], "type": ["udhëzues=1"]])
    }
}
