import CCairo
import Foundation

/// What a certificate says, in the holder's language, for the printable page and the PDF.
struct CertificateText: Sendable {
    var heading: String
    var holder: String
    var statement: String
    var event: String
    var details: [String]
    var issuer: String
    var status: String?
    var verifyLine: String
    var verifyURL: String
    var code: String
}

/// The certificate as an A4 landscape PDF drawn with cairo (DejaVu Sans covers Latin and Cyrillic), the QR code of
/// the verification URL drawn module by module.
enum CertificatePDF {
    private final class Sink {
        var data = Data()
    }

    static func render(_ content: CertificateText) -> Data {
        let sink = Sink()
        let box = Unmanaged.passRetained(sink)
        defer { box.release() }
        let width = 842.0, height = 595.0
        let surface = cairo_pdf_surface_create_for_stream({ closure, bytes, length in
            guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }, box.toOpaque(), width, height)
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, "\(content.heading) — \(content.holder)")
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Interba")
        let cr = cairo_create(surface)

        // Frame.
        cairo_set_source_rgb(cr, 0.11, 0.31, 0.55)
        cairo_set_line_width(cr, 6)
        cairo_rectangle(cr, 24, 24, width - 48, height - 48)
        cairo_stroke(cr)
        cairo_set_line_width(cr, 1)
        cairo_rectangle(cr, 34, 34, width - 68, height - 68)
        cairo_stroke(cr)

        func draw(_ string: String, size: Double, bold: Bool = false, y: Double, x: Double? = nil, maxWidth: Double = 560,
                  gray: Double = 0.1) {
            cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
            var fontSize = size
            var extents = cairo_text_extents_t()
            repeat {
                cairo_set_font_size(cr, fontSize)
                cairo_text_extents(cr, string, &extents)
                fontSize -= 1
            } while extents.x_advance > maxWidth && fontSize > 7
            cairo_set_source_rgb(cr, gray, gray, gray)
            cairo_move_to(cr, x ?? (70 + (maxWidth - extents.x_advance) / 2), y)
            cairo_show_text(cr, string)
        }

        let column = 600.0
        draw(content.heading.uppercased(), size: 26, bold: true, y: 110, maxWidth: column - 70)
        draw(content.statement, size: 13, y: 160, maxWidth: column - 70, gray: 0.3)
        draw(content.holder, size: 30, bold: true, y: 210, maxWidth: column - 70)
        draw(content.event, size: 18, bold: true, y: 270, maxWidth: column - 70)
        var y = 305.0
        for line in content.details {
            draw(line, size: 12, y: y, maxWidth: column - 70, gray: 0.25)
            y += 20
        }
        draw(content.issuer, size: 13, bold: true, y: y + 25, maxWidth: column - 70)
        if let status = content.status {
            cairo_set_source_rgb(cr, 0.7, 0.1, 0.1)
            draw(status, size: 16, bold: true, y: y + 60, maxWidth: column - 70, gray: 0.1)
        }

        // QR code and the verification lines on the right.
        if let qr = QRCode(content.verifyURL) {
            let side = 170.0
            let module = side / Double(qr.size)
            let left = column + 30, top = 150.0
            cairo_set_source_rgb(cr, 0, 0, 0)
            for row in 0..<qr.size {
                for columnIndex in 0..<qr.size where qr.isDark(columnIndex, row) {
                    cairo_rectangle(cr, left + Double(columnIndex) * module, top + Double(row) * module, module, module)
                }
            }
            cairo_fill(cr)
            draw(content.verifyLine, size: 10, y: top + side + 24, x: left, maxWidth: side, gray: 0.25)
            // The code in two lines of groups, so it stays inside the frame at a readable size.
            let groups = content.code.split(separator: "-").map(String.init)
            let half = (groups.count + 1) / 2
            draw(groups.prefix(half).joined(separator: "-") + (groups.count > half ? "-" : ""), size: 10, bold: true, y: top + side + 42,
                 x: left, maxWidth: side, gray: 0.1)
            if groups.count > half {
                draw(groups.suffix(from: half).joined(separator: "-"), size: 10, bold: true, y: top + side + 56, x: left, maxWidth: side, gray: 0.1)
            }
        }
        draw(content.verifyURL, size: 9, y: height - 50, x: 60, maxWidth: width - 120, gray: 0.35)

        cairo_show_page(cr)
        cairo_destroy(cr)
        cairo_surface_finish(surface)
        cairo_surface_destroy(surface)
        return sink.data
    }
}
