@testable import App
import Fluent
import Foundation
import Testing
import Vapor
import VaporTesting
import ZIPFoundation

/// The CC 1.1 schemas Moodle validates imports with (a copy of ../shared/moodle/cc11-schemas).
let cartridgeSchemas = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/cc11-schemas")

/// Validates an XML file with libxml2's xmllint against one of the schemas; returns xmllint's complaint, or nil.
func xmllint(_ file: URL, schema: String) throws -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
    process.arguments = ["--noout", "--nonet", "--schema", cartridgeSchemas.appendingPathComponent(schema).path, file.path]
    let output = Pipe()
    process.standardError = output
    process.standardOutput = output
    try process.run()
    process.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return process.terminationStatus == 0 ? nil : text
}

/// A PNG of 1×1 pixel.
let tinyPNG = Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")!

@Suite("E-learning courses and the Common Cartridge", .serialized)
struct CourseTests {
    func course(_ app: Application) async throws -> Course {
        let module = try #require(try await TrainingModule.query(on: app.db).filter(\.$slug == "iah-train-the-trainers").first())
        let tirana = try await app.institution("tirana")
        let service = CourseService(db: app.db, storage: app.fileStorage, baseURL: app.config.baseURL)
        let titles = Dictionary(uniqueKeysWithValues: TrainingModule.sections.map { ($0, "Seksioni \($0)") })
        let course = try await service.create(from: module, title: "Ndërkombëtarizimi në shtëpi", language: "sq", institutionID: tirana.id!,
                                              by: try await app.actor(demo("coordinator.tirana")), sectionTitles: titles, materialsTitle: "Materiale")
        let coordinator = try await app.actor(demo("coordinator.tirana"))
        let first = try #require(try await service.sections(course).first)
        _ = try await service.addItem(course, section: first, .init(kind: "url", title: "COIL – shembuj", url: "https://coil.example.org/a?b=1&c=2"), by: coordinator)
        _ = try await service.addItem(course, section: first, .init(kind: "discussion", title: "Тема за дискусија", body: "Çfarë **funksionon**?"), by: coordinator)
        let page = try await service.addItem(course, section: first, .init(kind: "page", title: "Faqja", body: "Teksti <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>"), by: coordinator)
        try await service.attach(course, item: page, filename: "diagrami.png", data: tinyPNG, by: coordinator)
        try await service.attach(course, item: page, filename: "udhëzues.md", data: Data("# Udhëzues".utf8), by: coordinator)
        return course
    }

    @Test("the cartridge: imsccv1p1 namespaces in the first 500 bytes, the overview first, every XML valid against the CC 1.1 schemas")
    func cartridge() async throws {
        try await withInterba { app in
            let course = try await course(app)
            let service = CourseService(db: app.db, storage: app.fileStorage, baseURL: app.config.baseURL)
            let data = try CommonCartridge.archive(try await service.cartridge(course, catalog: app.catalog))
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cc-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let archive = try Archive(data: data, accessMode: .read)
            var paths: [String] = []
            for entry in archive {
                paths.append(entry.path)
                _ = try archive.extract(entry, to: folder.appendingPathComponent(entry.path))
            }
            #expect(paths.first == "imsmanifest.xml")
            let manifest = try Data(contentsOf: folder.appendingPathComponent("imsmanifest.xml"))
            #expect(String(decoding: manifest.prefix(500), as: UTF8.self).contains("http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"))
            #expect(try xmllint(folder.appendingPathComponent("imsmanifest.xml"), schema: "ccv1p1_imscp_v1p2_v1p0.xsd") == nil)
            let text = String(decoding: manifest, as: UTF8.self)
            #expect(text.contains("<lomimscc:language>sq</lomimscc:language>"))
            #expect(text.contains("Ndërkombëtarizimi në shtëpi"))
            for type in ["webcontent", "imswl_xmlv1p1", "imsdt_xmlv1p1"] { #expect(text.contains("type=\"\(type)\""), "no \(type) resource") }
            // The first top-level item is the overview (Moodle's section 0), then one per section in order.
            let sections = try await service.sections(course)
            let topLevel = text.components(separatedBy: "\n").filter { $0.hasPrefix("        <item identifier=\"S_") }
            #expect(topLevel.count == sections.count + 1)
            #expect(topLevel.first?.contains("<title>") == true && topLevel.first?.contains("S_\(course.id!.uuidString.filter { $0.isLetter || $0.isNumber })overview") == true)
            #expect(topLevel[1].contains(sections[0].title))
            // Every web link and discussion validates against its schema; the page has no script and carries its files.
            var links = 0, topics = 0
            for path in paths {
                let url = folder.appendingPathComponent(path)
                if path.hasSuffix("weblink.xml") { links += 1; #expect(try xmllint(url, schema: "ccv1p1_imswl_v1p1.xsd") == nil, "\(path)") }
                if path.hasSuffix("topic.xml") { topics += 1; #expect(try xmllint(url, schema: "ccv1p1_imsdt_v1p1.xsd") == nil, "\(path)") }
                if path.hasSuffix("page.html") {
                    let html = try String(contentsOf: url, encoding: .utf8)
                    #expect(!html.contains("<script") && !html.contains("onerror"))
                }
            }
            #expect(links == 1 && topics == 1)
            #expect(paths.contains { $0.hasSuffix("/diagrami.png") })
            #expect(paths.contains { $0.hasSuffix("/udhezues.md") })
            let pages = try paths.filter { $0.hasSuffix("page.html") }.map { try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }
            let pageHTML = try #require(pages.first { $0.contains("<h1>Faqja</h1>") })
            #expect(pageHTML.contains("<img src=\"diagrami.png\""))
            #expect(pageHTML.contains("<a href=\"udhezues.md\">udhëzues.md</a>"))
            // The link keeps its query string, escaped in the XML.
            let weblink = try String(contentsOf: folder.appendingPathComponent(try #require(paths.first { $0.hasSuffix("weblink.xml") })), encoding: .utf8)
            #expect(weblink.contains("href=\"https://coil.example.org/a?b=1&amp;c=2\""))
        }
    }

    @Test("the builder: a course from a module, sections and items in order, what was typed kept on errors, unsafe attachments refused")
    func builder() async throws {
        try await withInterba { app in
            let web = WebClient(app)
            try await web.signIn(demo("coordinator.tirana"))
            let module = try #require(try await TrainingModule.query(on: app.db).filter(\.$slug == "preparing-a-short-training").first())
            let tirana = try await app.institution("tirana")
            let created = try await web.post("/courses", [("module", module.id!.uuidString), ("title", "Short trainings"), ("institution", tirana.id!.uuidString), ("language", "en")])
            #expect(created.status == .seeOther)
            let course = try #require(try await Course.query(on: app.db).filter(\.$title == "Short trainings").first())
            let base = "/courses/\(course.id!.uuidString)"
            #expect(created.headers.first(name: .location) == base + "/build")
            let service = CourseService(db: app.db, storage: app.fileStorage, baseURL: "")
            var sections = try await service.sections(course)
            #expect(sections.count == 5)
            #expect(try await service.items(sections).allSatisfy { $0.kind == .page && !$0.body.isEmpty })
            // A bad link is refused with the typed values kept.
            let bad = try await web.post(base + "/sections/\(sections[0].id!.uuidString)/items", [("item_kind", "url"), ("item_title", "Toolkit"), ("item_url", "javascript:alert(1)")])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("value=\"Toolkit\""))
            #expect(try await service.items([sections[0]]).count == 1)
            _ = try await web.post(base + "/sections", [("section_title", "Wrap-up"), ("section_summary", "")])
            sections = try await service.sections(course)
            #expect(sections.last?.title == "Wrap-up")
            // Move the new section up: it swaps with the fifth.
            _ = try await web.post(base + "/sections/\(sections[5].id!.uuidString)/move", [("direction", "up")])
            #expect(try await service.sections(course).map(\.title)[4] == "Wrap-up")
            // Items move within and across sections.
            let firstItem = try #require(try await service.items([sections[0]]).first)
            _ = try await web.post(base + "/items/\(firstItem.id!.uuidString)/move", [("direction", "down")])
            #expect(try await CourseItem.find(firstItem.id, on: app.db)?.$section.id == sections[1].id)
            // An HTML attachment is refused (scripts would reach Moodle); a PNG is kept.
            var headers = HTTPHeaders()
            let boundary = "X-INTERBA-BOUNDARY"
            headers.contentType = HTTPMediaType(type: "multipart", subType: "form-data", parameters: ["boundary": boundary])
            func multipart(_ filename: String, _ data: Data) async throws -> TestingHTTPResponse {
                var body = ByteBuffer()
                body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n\(try await web.csrfToken())\r\n")
                body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"\(filename)\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                body.writeBytes(data)
                body.writeString("\r\n--\(boundary)--\r\n")
                var all = headers
                all.replaceOrAdd(name: .cookie, value: web.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
                return try await app.testing().sendRequest(.POST, base + "/items/\(firstItem.id!.uuidString)/attachments", headers: all, body: body)
            }
            #expect(try await multipart("evil.html", Data("<!DOCTYPE html><html><script>alert(1)</script></html>".utf8)).status == .unprocessableEntity)
            #expect(try await multipart("photo.png", Data("not a png".utf8)).status == .unprocessableEntity)
            #expect(try await multipart("photo.png", tinyPNG).status == .seeOther)
            #expect(try await CourseAttachment.query(on: app.db).count() == 1)
            try await course.$institution.load(on: app.db)
            #expect(try await Course.find(course.id, on: app.db)!.version > 1)
            // The learner view, the preview and the download.
            let learner = try await WebClient(app).get(base)
            #expect(learner.body.string.contains("id=\"course-outline\""))
            #expect(learner.body.string.contains("id=\"not-on-moodle\""))
            #expect(try await web.get(base + "/preview").body.string.contains("id=\"preview-notice\""))
            #expect(try await WebClient(app).get(base + "/preview").status != .ok)
            let download = try await web.get(base + "/cartridge.imscc")
            #expect(download.headers.first(name: .contentType) == "application/vnd.ims.imsccv1p1")
            #expect(download.body.readableBytes > 1000)
            // Staff cannot build.
            let staff = WebClient(app)
            try await staff.signIn(demo("staff.tirana"))
            #expect(try await staff.get(base + "/build").status == .forbidden)
        }
    }

    @Test("API: /api/v1/courses and the cartridge")
    func api() async throws {
        try await withInterba { app in
            let course = try await course(app)
            let list = try await app.testing().sendRequest(.GET, "/api/v1/courses")
            let body = try JSONSerialization.jsonObject(with: Data(list.body.readableBytesView)) as! [String: Any]
            #expect(body["total"] as? Int == 1)
            let item = try #require((body["items"] as? [[String: Any]])?.first)
            #expect(item["shortname"] as? String == course.shortname)
            #expect((item["sections"] as? [[String: Any]])?.isEmpty == false)
            let cartridge = try await app.testing().sendRequest(.GET, "/api/v1/courses/\(course.id!.uuidString)/cartridge")
            #expect(cartridge.status == .ok)
            #expect(Data(cartridge.body.readableBytesView).prefix(2) == Data("PK".utf8))
            #expect(try await app.testing().sendRequest(.GET, "/api/v1/courses/\(UUID().uuidString)/cartridge").status == .notFound)
        }
    }
}
