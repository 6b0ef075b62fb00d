import Foundation
import Vapor

/// RFC 4180 CSV: fields quoted when needed, quotes doubled, CRLF line ends, UTF-8 with an optional BOM
/// (spreadsheet programs need the BOM to read ë, č or Cyrillic correctly).
struct CSVWriter {
    private(set) var text = ""

    init(header: [String]) { append(header) }

    mutating func append(_ fields: [String]) {
        text += fields.map(Self.escape).joined(separator: ",") + "\r\n"
    }

    static func escape(_ field: String) -> String {
        // A leading = + - @ would be run as a formula by spreadsheets: prefix it with an apostrophe.
        var value = field
        if let first = value.first, "=+-@".contains(first), Double(value) == nil { value = "'" + value }
        if value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return value
    }

    func data(bom: Bool) -> Data {
        (bom ? Data([0xEF, 0xBB, 0xBF]) : Data()) + Data(text.utf8)
    }

    /// The file as a download (`text/csv`, UTF-8, with the BOM unless `bom` is false).
    func response(filename: String, bom: Bool) -> Response {
        let response = Response(status: .ok, body: .init(data: data(bom: bom)))
        response.headers.contentType = HTTPMediaType(type: "text", subType: "csv", parameters: ["charset": "utf-8"])
        let safe = filename.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
        response.headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(safe)\"")
        return response
    }

    /// Numbers with a dot and fixed decimals, whatever the UI language (the file is data, not a page).
    static func number(_ value: Double?, digits: Int = 3) -> String {
        guard let value, value.isFinite else { return "" }
        return String(format: "%.\(digits)f", value)
    }
}
