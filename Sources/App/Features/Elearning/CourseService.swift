import Fluent
import Vapor

/// The course builder's rules: who builds (coordinators and trainers of the course's institution, and its creator),
/// creating a course from a module, sections and items in order, page attachments, and the cartridge's content.
struct CourseService {
    let db: any Database
    let storage: any FileStorage
    let baseURL: String
    var maxAttachmentBytes: Int = 50 * 1024 * 1024

    func canBuild(at place: InstitutionPlace, _ actor: Actor) -> Bool {
        actor.canManage(place) || actor.grants.contains { $0.role == .trainer && $0.scopeID == place.institutionID.uuidString }
    }

    func canEdit(_ course: Course, _ actor: Actor) async throws -> Bool {
        if course.createdByID == actor.userID { return true }
        guard let institution = try await Institution.find(course.$institution.id, on: db) else { return false }
        return canBuild(at: InstitutionPlace(institutionID: institution.id!, countryCode: institution.countryCode), actor)
    }

    /// A short name Moodle does not have yet on this platform: "IAH-" + letters of the title + a number.
    func shortname(for title: String) async throws -> String {
        let letters = title.folding(options: .diacriticInsensitive, locale: Locale(identifier: "en")).uppercased()
            .split { !($0.isLetter && $0.isASCII) && !$0.isNumber }.prefix(3).map { String($0.prefix(6)) }.joined(separator: "-")
        let base = "IAH-" + (letters.isEmpty ? "COURSE" : letters)
        var candidate = base
        var counter = 2
        while try await Course.query(on: db).filter(\.$shortname == candidate).count() > 0 {
            candidate = "\(base)-\(counter)"
            counter += 1
        }
        return candidate
    }

    /// A course from a module in one language: an overview (summary and outcomes), one section per module section
    /// with its text as a page, and a section with the module's repository materials.
    func create(from module: TrainingModule?, title: String, language: String, institutionID: UUID, by actor: Actor,
                sectionTitles: [String: String], materialsTitle: String) async throws -> Course {
        guard let institution = try await Institution.find(institutionID, on: db) else { throw FieldErrors([("institution", "training.error.institution")]) }
        guard canBuild(at: InstitutionPlace(institutionID: institutionID, countryCode: institution.countryCode), actor) else { throw Forbidden() }
        let name = title.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { throw FieldErrors([("title", "training.error.title")]) }
        if name.count > 254 { throw FieldErrors([("title", "respond.error.too_long")]) }
        let shortname = try await self.shortname(for: name)
        return try await db.transaction { tx in
            let course = Course()
            course.$module.id = module?.id
            course.$institution.id = institutionID
            course.title = name
            course.shortname = shortname
            course.language = language
            course.summary = module.map { $0.summary[language] ?? localized($0.summary, UILocale(rawValue: language) ?? .en) } ?? ""
            course.outcomes = module.map { $0.outcomes[language] ?? localized($0.outcomes, UILocale(rawValue: language) ?? .en) } ?? ""
            course.version = 1
            course.createdByID = actor.userID
            try await course.create(on: tx)
            guard let module else { return course }
            var position = 0
            for name in TrainingModule.sections {
                let text = module.sections[name].map { $0[language] ?? localized($0, UILocale(rawValue: language) ?? .en) } ?? ""
                guard !text.isEmpty else { continue }
                position += 1
                let section = try await self.addSection(course, title: sectionTitles[name] ?? name, summary: "", on: tx, position: position)
                let item = CourseItem()
                item.$section.id = try section.requireID()
                item.position = 1
                item.kind = .page
                item.title = sectionTitles[name] ?? name
                item.body = text
                item.url = ""
                try await item.create(on: tx)
            }
            if !module.materials.isEmpty {
                position += 1
                let section = try await self.addSection(course, title: materialsTitle, summary: "", on: tx, position: position)
                for (index, recordID) in module.materials.enumerated() {
                    guard let record = try await RepositoryRecord.find(recordID, on: tx), let number = record.publishedVersion,
                          let version = try await RecordVersion.query(on: tx).filter(\.$record.$id == recordID).filter(\.$number == number).first() else { continue }
                    let item = CourseItem()
                    item.$section.id = try section.requireID()
                    item.position = index + 1
                    item.kind = .record
                    item.title = version.title
                    item.body = ""
                    item.url = ""
                    item.recordID = recordID
                    try await item.create(on: tx)
                }
            }
            return course
        }
    }

    private func addSection(_ course: Course, title: String, summary: String, on db: any Database, position: Int) async throws -> CourseSection {
        let section = CourseSection()
        section.$course.id = try course.requireID()
        section.position = position
        section.title = title
        section.summary = summary
        try await section.create(on: db)
        return section
    }

    func touch(_ course: Course) async throws {
        course.version += 1
        try await course.save(on: db)
    }

    func sections(_ course: Course) async throws -> [CourseSection] {
        try await CourseSection.query(on: db).filter(\.$course.$id == course.requireID()).sort(\.$position).all()
    }

    func items(_ sections: [CourseSection]) async throws -> [CourseItem] {
        let ids = sections.compactMap(\.id)
        return ids.isEmpty ? [] : try await CourseItem.query(on: db).filter(\.$section.$id ~~ ids).sort(\.$position).all()
    }

    func updateCourse(_ course: Course, title: String, summary: String, outcomes: String, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        var errors: [(String, String)] = []
        let name = title.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { errors.append(("title", "training.error.title")) }
        if name.count > 254 { errors.append(("title", "respond.error.too_long")) }
        if summary.count > 20_000 || outcomes.count > 20_000 { errors.append(("summary", "respond.error.too_long")) }
        if !errors.isEmpty { throw FieldErrors(errors) }
        course.title = name
        course.summary = summary
        course.outcomes = outcomes
        try await touch(course)
    }

    func addSection(_ course: Course, title: String, summary: String, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        let name = title.trimmingCharacters(in: .whitespacesAndNewlines)
        if name.isEmpty { throw FieldErrors([("section_title", "course.error.section-title")]) }
        if name.count > 300 { throw FieldErrors([("section_title", "respond.error.too_long")]) }
        let last = try await CourseSection.query(on: db).filter(\.$course.$id == course.requireID()).max(\.$position) ?? 0
        _ = try await addSection(course, title: name, summary: summary, on: db, position: last + 1)
        try await touch(course)
    }

    struct ItemInput: Equatable, Sendable {
        var kind = CourseItem.Kind.page.rawValue
        var title = ""
        var body = ""
        var url = ""
        var record = ""
    }

    func validate(_ input: ItemInput) async throws -> (CourseItem.Kind, UUID?) {
        var errors: [(String, String)] = []
        let kind = CourseItem.Kind(rawValue: input.kind)
        if kind == nil { errors.append(("item_kind", "course.error.kind")) }
        if input.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(("item_title", "course.error.item-title")) }
        if input.title.count > 300 { errors.append(("item_title", "respond.error.too_long")) }
        if input.body.count > 200_000 { errors.append(("item_body", "respond.error.too_long")) }
        var recordID: UUID?
        switch kind {
        case .url:
            let url = input.url.trimmingCharacters(in: .whitespaces)
            if !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil { errors.append(("item_url", "course.error.url")) }
        case .record:
            let candidate = input.record.split(separator: "/").map(String.init).first { UUID(uuidString: $0) != nil }
            recordID = candidate.flatMap(UUID.init(uuidString:))
            if let id = recordID, let record = try await RepositoryRecord.find(id, on: db), record.publishedVersion != nil, record.archivedAt == nil {
            } else { errors.append(("item_record", "course.error.record")) }
        case .page, .discussion:
            if input.body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { errors.append(("item_body", "course.error.body")) }
        case nil: break
        }
        if !errors.isEmpty { throw FieldErrors(errors) }
        return (kind!, recordID)
    }

    func addItem(_ course: Course, section: CourseSection, _ input: ItemInput, by actor: Actor) async throws -> CourseItem {
        guard try await canEdit(course, actor), section.$course.id == course.id else { throw Forbidden() }
        let (kind, recordID) = try await validate(input)
        let last = try await CourseItem.query(on: db).filter(\.$section.$id == section.requireID()).max(\.$position) ?? 0
        let item = CourseItem()
        item.$section.id = try section.requireID()
        item.position = last + 1
        apply(input, kind: kind, recordID: recordID, to: item)
        try await item.create(on: db)
        try await touch(course)
        return item
    }

    func updateItem(_ course: Course, item: CourseItem, _ input: ItemInput, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        let (kind, recordID) = try await validate(input)
        apply(input, kind: kind, recordID: recordID, to: item)
        try await item.save(on: db)
        try await touch(course)
    }

    private func apply(_ input: ItemInput, kind: CourseItem.Kind, recordID: UUID?, to item: CourseItem) {
        item.kind = kind
        item.title = input.title.trimmingCharacters(in: .whitespacesAndNewlines)
        item.body = [.page, .discussion].contains(kind) ? input.body : ""
        item.url = kind == .url ? input.url.trimmingCharacters(in: .whitespaces) : ""
        item.recordID = kind == .record ? recordID : nil
    }

    /// Moves a section or an item one place up or down by swapping positions with its neighbour.
    func moveSection(_ course: Course, _ section: CourseSection, up: Bool, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        let all = try await sections(course)
        guard let index = all.firstIndex(where: { $0.id == section.id }) else { return }
        let other = up ? index - 1 : index + 1
        guard all.indices.contains(other) else { return }
        try await swap(all[index], all[other])
        try await touch(course)
    }

    func moveItem(_ course: Course, _ item: CourseItem, up: Bool, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        let siblings = try await CourseItem.query(on: db).filter(\.$section.$id == item.$section.id).sort(\.$position).all()
        guard let index = siblings.firstIndex(where: { $0.id == item.id }) else { return }
        let other = up ? index - 1 : index + 1
        if siblings.indices.contains(other) {
            let a = siblings[index], b = siblings[other]
            try await db.transaction { tx in
                let position = a.position
                a.position = b.position
                b.position = position
                try await a.save(on: tx)
                try await b.save(on: tx)
            }
        } else {
            // At the edge of its section: into the end of the previous section or the start of the next one.
            let all = try await sections(course)
            guard let sectionIndex = all.firstIndex(where: { $0.id == item.$section.id }) else { return }
            let target = up ? sectionIndex - 1 : sectionIndex + 1
            guard all.indices.contains(target) else { return }
            let targetItems = try await CourseItem.query(on: db).filter(\.$section.$id == all[target].requireID()).sort(\.$position).all()
            item.$section.id = try all[target].requireID()
            item.position = up ? (targetItems.last?.position ?? 0) + 1 : (targetItems.first?.position ?? 1) - 1
            try await item.save(on: db)
        }
        try await touch(course)
    }

    private func swap(_ a: CourseSection, _ b: CourseSection) async throws {
        try await db.transaction { tx in
            let position = a.position
            a.position = b.position
            b.position = position
            try await a.save(on: tx)
            try await b.save(on: tx)
        }
    }

    func deleteItem(_ course: Course, _ item: CourseItem, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        try await db.transaction { tx in
            try await CourseAttachment.query(on: tx).filter(\.$item.$id == item.requireID()).delete()
            try await item.delete(on: tx)
        }
        try await touch(course)
    }

    func deleteSection(_ course: Course, _ section: CourseSection, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        let items = try await CourseItem.query(on: db).filter(\.$section.$id == section.requireID()).all()
        guard items.isEmpty else { throw FieldErrors([("section", "course.error.section-not-empty")]) }
        try await section.delete(on: db)
        try await touch(course)
    }

    /// A file for a page: images are shown in it, other files linked; the type is read from the bytes.
    func attach(_ course: Course, item: CourseItem, filename: String, data: Data, by actor: Actor) async throws {
        guard try await canEdit(course, actor) else { throw Forbidden() }
        guard item.kind == .page else { throw FieldErrors([("attachment", "course.error.attachment-page")]) }
        if data.count > maxAttachmentBytes { throw FieldErrors([("attachment", "repository.error.file-too-large")]) }
        let (type, problem) = ContentSniffer.check(filename: filename, data: data)
        if let problem { throw FieldErrors([("attachment", "repository.error.file-\(problem)")]) }
        // A web page could carry scripts into Moodle: pages are written in Markdown instead.
        if type == .html { throw FieldErrors([("attachment", "course.error.attachment-html")]) }
        let sha = try storage.put(data)
        let attachment = CourseAttachment()
        attachment.$item.id = try item.requireID()
        attachment.filename = String(filename.split(separator: "/").last ?? "file").prefix(200).description
        attachment.mediaType = type?.mediaType ?? "application/octet-stream"
        attachment.size = data.count
        attachment.sha256 = sha
        try await attachment.create(on: db)
        try await touch(course)
    }

    // MARK: the cartridge

    func cartridge(_ course: Course, catalog: Catalog) async throws -> CommonCartridge.Course {
        let locale = UILocale(rawValue: course.language) ?? .en
        let sections = try await self.sections(course)
        let items = try await self.items(sections)
        let itemIDs = items.compactMap(\.id)
        let attachments = itemIDs.isEmpty ? [] : try await CourseAttachment.query(on: db).filter(\.$item.$id ~~ itemIDs).all()
        var result: [CommonCartridge.Section] = []
        for section in sections {
            var entries: [CommonCartridge.Item] = []
            for item in items where item.$section.id == section.id {
                let id = item.id!.uuidString
                switch item.kind {
                case .page:
                    let files = try attachments.filter { $0.$item.id == item.id }.map {
                        CommonCartridge.Attachment(filename: $0.filename, mediaType: $0.mediaType, data: try storage.read($0.sha256, offset: 0, length: nil))
                    }
                    entries.append(.init(id: id, title: item.title, content: .page(html: Markdown.html(item.body), attachments: files)))
                case .url:
                    entries.append(.init(id: id, title: item.title, content: .link(url: item.url)))
                case .discussion:
                    entries.append(.init(id: id, title: item.title, content: .discussion(html: Markdown.html(item.body))))
                case .record:
                    guard let recordID = item.recordID, let record = try await RepositoryRecord.find(recordID, on: db) else { continue }
                    let file: RecordFile? = try await {
                        guard record.visibility == .public, let number = record.publishedVersion,
                              let version = try await RecordVersion.query(on: db).filter(\.$record.$id == recordID).filter(\.$number == number).first()
                        else { return nil }
                        return try await RecordFile.query(on: db).filter(\.$version.$id == version.requireID()).sort(\.$position).first()
                    }()
                    if let file {
                        entries.append(.init(id: id, title: item.title, content: .file(.init(filename: file.filename, mediaType: file.mediaType,
                                                                                                   data: try storage.read(file.sha256, offset: 0, length: nil)))))
                    } else {
                        entries.append(.init(id: id, title: item.title, content: .link(url: "\(baseURL)/repository/\(recordID.uuidString)")))
                    }
                }
            }
            result.append(.init(id: section.id!.uuidString, title: section.title, summaryHTML: Markdown.html(section.summary), items: entries))
        }
        return CommonCartridge.Course(
            id: course.id!.uuidString, title: course.title, language: course.language, summaryHTML: Markdown.html(course.summary),
            outcomesHTML: Markdown.html(course.outcomes), overviewTitle: catalog.text("course.overview", locale, []),
            outcomesHeading: catalog.text("training.section.outcomes", locale, []), sections: result)
    }
}
