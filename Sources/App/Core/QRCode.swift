import CQREncode
import Foundation

/// QR codes through libqrencode: the module matrix, drawn as SVG for pages or as rectangles by the PDF writer.
struct QRCode: Sendable {
    /// Modules per side.
    let size: Int
    /// Row-major, true = dark.
    let modules: [Bool]

    /// Encodes text (a URL) at error-correction level M; nil when libqrencode refuses (text too long).
    init?(_ text: String) {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        size = width
        var modules = [Bool](repeating: false, count: width * width)
        for index in 0..<(width * width) { modules[index] = code.pointee.data[index] & 1 == 1 }
        self.modules = modules
    }

    func isDark(_ x: Int, _ y: Int) -> Bool { modules[y * size + x] }

    /// An SVG with a 4-module quiet zone, one path; `label` becomes its accessible name.
    func svg(label: String, pixels: Int = 160) -> String {
        let total = size + 8
        var path = ""
        for y in 0..<size {
            var x = 0
            while x < size {
                guard isDark(x, y) else { x += 1; continue }
                var run = 1
                while x + run < size && isDark(x + run, y) { run += 1 }
                path += "M\(x + 4) \(y + 4)h\(run)v1h-\(run)z"
                x += run
            }
        }
        let escaped = label.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
        return """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(total) \(total)" width="\(pixels)" height="\(pixels)" role="img" aria-label="\(escaped)" shape-rendering="crispEdges"><rect width="\(total)" height="\(total)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
        """
    }
}
