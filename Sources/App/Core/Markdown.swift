import CCMark
import Foundation

/// Markdown written by people (training module sections, course pages) rendered to HTML with cmark, the CommonMark
/// reference implementation, in its safe default: raw HTML is dropped and `javascript:`/`vbscript:`/`file:`/`data:`
/// links are emptied, so the result can be placed in a page unescaped.
enum Markdown {
    static func html(_ text: String) -> String {
        guard !text.isEmpty else { return "" }
        let bytes = Array(text.utf8)
        guard let rendered = bytes.withUnsafeBufferPointer({ buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                cmark_markdown_to_html($0, buffer.count, CMARK_OPT_DEFAULT | CMARK_OPT_SMART)
            }
        }) else { return "" }
        defer { free(rendered) }
        return String(cString: rendered)
    }
}
