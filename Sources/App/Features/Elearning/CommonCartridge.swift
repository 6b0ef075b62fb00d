import Foundation
import ZIPFoundation

/// IMS Common Cartridge 1.1 export (the version Moodle's core importer reads), as pure functions over plain values.
/// Layout, following what Moodle 4.5 does on import (../shared/moodle/README.md):
/// - the manifest's root element declares the `imsccv1p1` namespaces in its first bytes (Moodle looks there);
/// - the first top-level item is a course overview (it lands in Moodle's section 0, "General"), then one top-level
///   item per course section (its title becomes the Moodle section summary) holding the section's items;
/// - pages are `webcontent` HTML files with their attachments beside them, links `imswl_xmlv1p1`, discussion topics
///   `imsdt_xmlv1p1`, repository files `webcontent` files.
enum CommonCartridge {
    struct File: Sendable, Equatable {
        var path: String
        var data: Data
    }

    struct Attachment: Sendable, Equatable {
        var filename: String
        var mediaType: String
        var data: Data
    }

    struct Item: Sendable, Equatable {
        enum Content: Sendable, Equatable {
            /// A page: its HTML body (already sanitised) and attachments.
            case page(html: String, attachments: [Attachment])
            /// A file packaged as is (a repository record's file).
            case file(Attachment)
            case link(url: String)
            case discussion(html: String)
        }
        var id: String
        var title: String
        var content: Content
    }

    struct Section: Sendable, Equatable {
        var id: String
        var title: String
        var summaryHTML: String
        var items: [Item]
    }

    struct Course: Sendable, Equatable {
        var id: String
        var title: String
        var language: String
        var summaryHTML: String
        var outcomesHTML: String
        var overviewTitle: String
        var outcomesHeading: String
        var sections: [Section]
    }

    static let manifestNamespace = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default:
                // Characters XML 1.0 does not allow are dropped.
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// An XML NCName from an id.
    static func identifier(_ prefix: String, _ id: String) -> String {
        prefix + "_" + id.filter { $0.isLetter || $0.isNumber }
    }

    /// A file name that is safe in a ZIP and a URL: ASCII letters, digits, dot, dash and underscore.
    static func safeName(_ name: String) -> String {
        let folded = name.folding(options: .diacriticInsensitive, locale: Locale(identifier: "en"))
        var safe = String(folded.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" })
        while safe.hasPrefix(".") { safe.removeFirst() }
        if safe.isEmpty { safe = "file" }
        return String(safe.suffix(100))
    }

    static func page(title: String, language: String, bodyHTML: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(escape(language))">
        <head><meta charset="utf-8"><title>\(escape(title))</title></head>
        <body>
        <h1>\(escape(title))</h1>
        \(bodyHTML)
        </body>
        </html>

        """
    }

    /// Every file of the package, the manifest first.
    static func files(_ course: Course) -> [File] {
        var files: [File] = []
        var resources: [String] = []
        var organisation = ""
        func add(_ path: String, _ text: String) { files.append(File(path: path, data: Data(text.utf8))) }

        // The overview (Moodle's section 0): the summary and the intended learning outcomes.
        let overviewID = identifier("R", course.id + "overview")
        let overviewPath = "overview.html"
        add(overviewPath, page(title: course.title, language: course.language,
                               bodyHTML: course.summaryHTML + (course.outcomesHTML.isEmpty ? "" : "\n<h2>\(escape(course.outcomesHeading))</h2>\n" + course.outcomesHTML)))
        resources.append("""
            <resource identifier="\(overviewID)" type="webcontent" href="\(overviewPath)"><file href="\(overviewPath)"/></resource>
        """)
        organisation += """
                <item identifier="\(identifier("S", course.id + "overview"))"><title>\(escape(course.overviewTitle))</title>
                  <item identifier="\(identifier("I", course.id + "overview"))" identifierref="\(overviewID)"><title>\(escape(course.title))</title></item>
                </item>

        """
        for section in course.sections {
            organisation += "        <item identifier=\"\(identifier("S", section.id))\"><title>\(escape(section.title))</title>\n"
            for item in section.items {
                let resourceID = identifier("R", item.id)
                let folder = identifier("i", item.id)
                switch item.content {
                case let .page(html, attachments):
                    var body = html
                    var fileLines = ""
                    var used: Set<String> = []
                    var listed: [String] = []
                    for attachment in attachments {
                        var name = safeName(attachment.filename)
                        while used.contains(name) { name = "_" + name }
                        used.insert(name)
                        let path = "\(folder)/\(name)"
                        files.append(File(path: path, data: attachment.data))
                        fileLines += "<file href=\"\(escape(path))\"/>"
                        if attachment.mediaType.hasPrefix("image/") {
                            body += "\n<p><img src=\"\(escape(name))\" alt=\"\(escape(attachment.filename))\"></p>"
                        } else {
                            listed.append("<li><a href=\"\(escape(name))\">\(escape(attachment.filename))</a></li>")
                        }
                    }
                    if !listed.isEmpty { body += "\n<ul>" + listed.joined() + "</ul>" }
                    let path = "\(folder)/page.html"
                    add(path, page(title: item.title, language: course.language, bodyHTML: body))
                    resources.append("    <resource identifier=\"\(resourceID)\" type=\"webcontent\" href=\"\(path)\"><file href=\"\(path)\"/>\(fileLines)</resource>")
                case let .file(attachment):
                    let path = "\(folder)/\(safeName(attachment.filename))"
                    files.append(File(path: path, data: attachment.data))
                    resources.append("    <resource identifier=\"\(resourceID)\" type=\"webcontent\" href=\"\(escape(path))\"><file href=\"\(escape(path))\"/></resource>")
                case let .link(url):
                    let path = "\(folder)/weblink.xml"
                    add(path, """
                        <?xml version="1.0" encoding="UTF-8"?>
                        <webLink xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imswl_v1p1"><title>\(escape(item.title))</title><url href="\(escape(url))" target="_blank"/></webLink>

                        """)
                    resources.append("    <resource identifier=\"\(resourceID)\" type=\"imswl_xmlv1p1\"><file href=\"\(path)\"/></resource>")
                case let .discussion(html):
                    let path = "\(folder)/topic.xml"
                    add(path, """
                        <?xml version="1.0" encoding="UTF-8"?>
                        <topic xmlns="http://www.imsglobal.org/xsd/imsccv1p1/imsdt_v1p1"><title>\(escape(item.title))</title><text texttype="text/html">\(escape(html))</text></topic>

                        """)
                    resources.append("    <resource identifier=\"\(resourceID)\" type=\"imsdt_xmlv1p1\"><file href=\"\(path)\"/></resource>")
                }
                organisation += "          <item identifier=\"\(identifier("I", item.id))\" identifierref=\"\(resourceID)\"><title>\(escape(item.title))</title></item>\n"
            }
            organisation += "        </item>\n"
        }
        let language = escape(course.language)
        let manifest = """
        <?xml version="1.0" encoding="UTF-8"?>
        <manifest xmlns="\(manifestNamespace)" xmlns:lomimscc="http://ltsc.ieee.org/xsd/imsccv1p1/LOM/manifest" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" identifier="\(identifier("M", course.id))" xsi:schemaLocation="http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1 http://www.imsglobal.org/profile/cc/ccv1p1/ccv1p1_imscp_v1p2_v1p0.xsd http://ltsc.ieee.org/xsd/imsccv1p1/LOM/manifest http://www.imsglobal.org/profile/cc/ccv1p1/LOM/ccv1p1_lommanifest_v1p0.xsd">
          <metadata>
            <schema>IMS Common Cartridge</schema>
            <schemaversion>1.1.0</schemaversion>
            <lomimscc:lom>
              <lomimscc:general>
                <lomimscc:title><lomimscc:string language="\(language)">\(escape(course.title))</lomimscc:string></lomimscc:title>
                <lomimscc:language>\(language)</lomimscc:language>
              </lomimscc:general>
            </lomimscc:lom>
          </metadata>
          <organizations>
            <organization identifier="\(identifier("O", course.id))" structure="rooted-hierarchy">
              <item identifier="\(identifier("ROOT", course.id))">
        \(organisation)      </item>
            </organization>
          </organizations>
          <resources>
        \(resources.joined(separator: "\n"))
          </resources>
        </manifest>

        """
        return [File(path: "imsmanifest.xml", data: Data(manifest.utf8))] + files
    }

    /// The `.imscc` file: a ZIP of the package.
    static func archive(_ course: Course) throws -> Data {
        let archive = try Archive(data: Data(), accessMode: .create)
        for file in files(course) {
            let data = file.data
            try archive.addEntry(with: file.path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let data = archive.data else { throw CartridgeError.archive }
        return data
    }

    enum CartridgeError: Error { case archive }
}
