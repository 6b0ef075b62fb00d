import Fluent
import Vapor

extension Request {
    var courses: CourseService {
        CourseService(db: db, storage: application.fileStorage, baseURL: application.config.baseURL,
                      maxAttachmentBytes: application.config.maxUploadBytes)
    }
}

/// Courses: the learner's view (description, outcomes, outline, "continue in Moodle"), the builder (sections and
/// items in order, page attachments), a preview as a learner, and the Common Cartridge download.
struct CourseRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("courses", use: index)
        routes.get("courses", ":id", use: show)
        routes.get("courses", ":id", "cartridge.imscc", use: cartridge)
        let builders = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("courses")
        builders.get("new", use: newForm)
        builders.post(use: create)
        builders.get(":id", "build", use: build)
        builders.get(":id", "preview", use: preview)
        builders.post(":id", "edit", use: updateCourse)
        builders.post(":id", "sections", use: addSection)
        builders.post(":id", "sections", ":sectionID", "move", use: moveSection)
        builders.post(":id", "sections", ":sectionID", "delete", use: deleteSection)
        builders.post(":id", "sections", ":sectionID", "items", use: addItem)
        builders.get(":id", "items", ":itemID", "edit", use: editItemForm)
        builders.post(":id", "items", ":itemID", "edit", use: updateItem)
        builders.post(":id", "items", ":itemID", "move", use: moveItem)
        builders.post(":id", "items", ":itemID", "delete", use: deleteItem)
        builders.on(.POST, ":id", "items", ":itemID", "attachments", body: .collect(maxSize: "100mb"), use: attach)
    }

    func find(_ req: Request) async throws -> Course {
        guard let id = req.parameters.get("id", as: UUID.self), let course = try await Course.find(id, on: req.db) else { throw Abort(.notFound) }
        return course
    }

    func editable(_ req: Request) async throws -> (Course, Actor) {
        let actor = try await req.requireActor()
        let course = try await find(req)
        guard try await req.courses.canEdit(course, actor) else { throw Forbidden() }
        return (course, actor)
    }

    // MARK: list and learner view

    struct Row: Encodable { var href: String; var title: String; var institution: String; var language: String; var sections: Int }

    struct IndexView: Encodable {
        var courses: [Row]
        var canBuild: Bool
    }

    func index(req: Request) async throws -> Response {
        let courses = try await Course.query(on: req.db).sort(\.$title).all()
        let institutions = try await Institution.query(on: req.db).all()
        var rows: [Row] = []
        for course in courses {
            rows.append(.init(href: "/courses/\(course.id!.uuidString)", title: course.title,
                              institution: institutions.first { $0.id == course.$institution.id }.map { localized($0.names, req.locale) } ?? "",
                              language: course.language, sections: try await CourseSection.query(on: req.db).filter(\.$course.$id == course.requireID()).count()))
        }
        var canBuild = false
        if let actor = try await req.actor() { canBuild = try await !buildable(req, actor).isEmpty }
        return try await req.page("courses/index", titleKey: "course.title", IndexView(courses: rows, canBuild: canBuild))
    }

    func buildable(_ req: Request, _ actor: Actor) async throws -> [Institution] {
        try await Institution.query(on: req.db).all().filter {
            req.courses.canBuild(at: InstitutionPlace(institutionID: $0.id!, countryCode: $0.countryCode), actor)
        }.sorted { $0.shortName < $1.shortName }
    }

    struct OutlineItem: Encodable {
        var id: String
        var title: String
        var kind: String
        var kindCode: String
        var html: String
        var url: String
        var attachments: [Choice]
        var editHref: String
        var first: Bool
        var last: Bool
    }

    struct OutlineSection: Encodable {
        var id: String
        var number: Int
        var title: String
        var summary: String
        var items: [OutlineItem]
        var first: Bool
        var last: Bool
    }

    struct ShowView: Encodable {
        var id: String
        var title: String
        var shortname: String
        var summary: String
        var outcomes: String
        var language: String
        var version: Int
        var institution: String
        var module: String?
        var moduleHref: String?
        var sections: [OutlineSection]
        var moodleURL: String?
        var canEdit: Bool
        var cartridgeHref: String
    }

    func outline(_ req: Request, _ course: Course, full: Bool) async throws -> [OutlineSection] {
        let sections = try await req.courses.sections(course)
        let items = try await req.courses.items(sections)
        let itemIDs = items.compactMap(\.id)
        let attachments = itemIDs.isEmpty ? [] : try await CourseAttachment.query(on: req.db).filter(\.$item.$id ~~ itemIDs).all()
        return sections.enumerated().map { index, section in
            let own = items.filter { $0.$section.id == section.id }
            return OutlineSection(
                id: section.id!.uuidString, number: index + 1, title: section.title, summary: Markdown.html(section.summary),
                items: own.enumerated().map { position, item in
                    OutlineItem(id: item.id!.uuidString, title: item.title, kind: req.t(item.kind.catalogKey), kindCode: item.kind.rawValue,
                                html: full ? Markdown.html(item.body) : "",
                                url: item.kind == .url ? item.url : (item.recordID.map { "/repository/\($0.uuidString)" } ?? ""),
                                attachments: attachments.filter { $0.$item.id == item.id }.map {
                                    Choice(value: $0.mediaType, label: $0.filename, selected: $0.mediaType.hasPrefix("image/"))
                                },
                                editHref: "/courses/\(course.id!.uuidString)/items/\(item.id!.uuidString)/edit",
                                first: index == 0 && position == 0, last: index == sections.count - 1 && position == own.count - 1)
                },
                first: index == 0, last: index == sections.count - 1)
        }
    }

    func showView(_ req: Request, _ course: Course, full: Bool) async throws -> ShowView {
        let institution = try await Institution.find(course.$institution.id, on: req.db)
        let module = try await course.$module.id.asyncMap { try await TrainingModule.find($0, on: req.db) } ?? nil
        let canEdit = try await req.actor().asyncMap { try await req.courses.canEdit(course, $0) } ?? false
        return ShowView(
            id: course.id!.uuidString, title: course.title, shortname: course.shortname, summary: Markdown.html(course.summary),
            outcomes: Markdown.html(course.outcomes), language: course.language, version: course.version,
            institution: institution.map { localized($0.names, req.locale) } ?? "",
            module: module.map { localized($0.title, req.locale) }, moduleHref: module.map { "/training/modules/\($0.slug)" },
            sections: try await outline(req, course, full: full), moodleURL: try await MoodleLinks.courseURL(course, on: req.db),
            canEdit: canEdit, cartridgeHref: "/courses/\(course.id!.uuidString)/cartridge.imscc")
    }

    func show(req: Request) async throws -> Response {
        let course = try await find(req)
        return try await req.page("courses/show", titleKey: "course.course_title", titleArguments: [course.title], try await showView(req, course, full: false))
    }

    /// The whole course as a learner reads it, every page open.
    func preview(req: Request) async throws -> Response {
        let (course, _) = try await editable(req)
        return try await req.page("courses/preview", titleKey: "course.preview_title", titleArguments: [course.title], try await showView(req, course, full: true))
    }

    func cartridge(req: Request) async throws -> Response {
        try await Self.cartridgeResponse(req, try await find(req))
    }

    /// The `.imscc` download (the page's link and the API's).
    static func cartridgeResponse(_ req: Request, _ course: Course) async throws -> Response {
        let data = try CommonCartridge.archive(try await req.courses.cartridge(course, catalog: req.application.catalog))
        let response = Response(status: .ok, body: .init(data: data))
        response.headers.replaceOrAdd(name: .contentType, value: "application/vnd.ims.imsccv1p1")
        response.headers.replaceOrAdd(name: .contentDisposition, value: "attachment; filename=\"\(CommonCartridge.safeName(course.shortname)).imscc\"")
        return response
    }

    // MARK: new course

    struct NewView: Encodable {
        var form: FormState
        var modules: [Choice]
        var institutions: [Choice]
        var languages: [Choice]
    }

    func newView(_ req: Request, _ actor: Actor, values: [String: String], errors: FieldErrors?) async throws -> NewView {
        var form = FormState(values: values)
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)) }
        let modules = try await TrainingModule.query(on: req.db).filter(\.$state != .retired).sort(\.$slug).all()
        return NewView(
            form: form,
            modules: [Choice(value: "", label: req.t("course.no_module"), selected: (values["module"] ?? "").isEmpty)]
                + modules.map { Choice(value: $0.id!.uuidString, label: localized($0.title, req.locale), selected: $0.id!.uuidString == values["module"]) },
            institutions: try await buildable(req, actor).map {
                Choice(value: $0.id!.uuidString, label: localized($0.names, req.locale), selected: $0.id!.uuidString == values["institution"])
            },
            languages: UILocale.allCases.map { Choice(value: $0.rawValue, label: $0.nativeName, selected: $0.rawValue == (values["language"] ?? req.locale.rawValue)) })
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard try await !buildable(req, actor).isEmpty else { throw Forbidden() }
        var values = ["module": (try? req.query.get(String.self, at: "module")) ?? "", "language": req.locale.rawValue,
                      "institution": actor.home?.institutionID.uuidString ?? ""]
        if let id = UUID(uuidString: values["module"] ?? ""), let module = try await TrainingModule.find(id, on: req.db) {
            values["title"] = localized(module.title, req.locale)
        }
        return try await req.page("courses/new", titleKey: "course.new", try await newView(req, actor, values: values, errors: nil))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        struct Input: Content { var title: String?; var module: String?; var institution: String?; var language: String? }
        let input = try req.content.decode(Input.self)
        let values = ["title": input.title ?? "", "module": input.module ?? "", "institution": input.institution ?? "", "language": input.language ?? "en"]
        do {
            let module = try await UUID(uuidString: input.module ?? "").asyncMap { try await TrainingModule.find($0, on: req.db) } ?? nil
            guard let institutionID = UUID(uuidString: input.institution ?? "") else { throw FieldErrors([("institution", "training.error.institution")]) }
            let language = UILocale(rawValue: input.language ?? "")?.rawValue ?? "en"
            let locale = UILocale(rawValue: language) ?? .en
            let titles = Dictionary(uniqueKeysWithValues: TrainingModule.sections.map { ($0, req.application.catalog.text("training.section.\($0)", locale, [])) })
            let course = try await req.courses.create(from: module, title: input.title ?? "", language: language, institutionID: institutionID, by: actor,
                                                      sectionTitles: titles, materialsTitle: req.application.catalog.text("training.materials", locale, []))
            req.flash("success", "course.saved")
            return req.seeOther("/courses/\(course.id!.uuidString)/build")
        } catch let errors as FieldErrors {
            return try await req.page("courses/new", titleKey: "course.new", try await newView(req, actor, values: values, errors: errors), status: .unprocessableEntity)
        }
    }

    // MARK: the builder

    struct MoodlePanel: Encodable {
        var site: String?
        var courseURL: String?
        var events: [Choice]
        var canConfigure: Bool
    }

    struct BuildView: Encodable {
        var course: ShowView
        var form: FormState
        var moodle: MoodlePanel
        var kinds: [Choice]
        /// The section whose "add an item" form is being corrected.
        var formSection: String
    }

    func buildView(_ req: Request, _ course: Course, form: FormState = FormState(), formSection: String = "") async throws -> BuildView {
        let sync = req.moodle
        let connection = try await sync.connection(for: course)
        let linked = Set(try await CourseEvent.query(on: req.db).filter(\.$course.$id == course.requireID()).all().map(\.$event.id))
        let events = try await TrainingEvent.query(on: req.db).filter(\.$institution.$id == course.$institution.id).filter(\.$status == .scheduled).all()
            .sorted { $0.title < $1.title }
        let panel = MoodlePanel(site: connection.map { $0.siteName ?? $0.siteURL }, courseURL: try await MoodleLinks.courseURL(course, on: req.db),
                                events: events.map { Choice(value: $0.id!.uuidString, label: $0.title, selected: linked.contains($0.id!)) },
                                canConfigure: try await req.actor()?.isCoordinator ?? false)
        return BuildView(course: try await showView(req, course, full: false), form: form, moodle: panel,
                  kinds: CourseItem.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0.rawValue == (form.values["item_kind"] ?? "page")) },
                  formSection: formSection)
    }

    func build(req: Request) async throws -> Response {
        let (course, _) = try await editable(req)
        var form = FormState(values: ["title": course.title, "summary": course.summary, "outcomes": course.outcomes])
        form.values["item_kind"] = "page"
        return try await req.page("courses/build", titleKey: "course.build_title", titleArguments: [course.title], try await buildView(req, course, form: form))
    }

    /// Runs a builder action; field errors come back on the builder with what was typed.
    func act(_ req: Request, values: [String: String] = [:], formSection: String = "", success: String,
             _ body: (CourseService, Course, Actor) async throws -> Void) async throws -> Response {
        let (course, actor) = try await editable(req)
        do {
            try await body(req.courses, course, actor)
            req.flash("success", success)
            return req.seeOther("/courses/\(course.id!.uuidString)/build")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["title": course.title, "summary": course.summary, "outcomes": course.outcomes].merging(values) { $1 })
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("courses/build", titleKey: "course.build_title", titleArguments: [course.title],
                                      try await buildView(req, course, form: form, formSection: formSection), status: .unprocessableEntity)
        }
    }

    func updateCourse(req: Request) async throws -> Response {
        struct Input: Content { var title: String?; var summary: String?; var outcomes: String? }
        let input = (try? req.content.decode(Input.self)) ?? Input()
        return try await act(req, values: ["title": input.title ?? "", "summary": input.summary ?? "", "outcomes": input.outcomes ?? ""], success: "course.saved") {
            try await $0.updateCourse($1, title: input.title ?? "", summary: input.summary ?? "", outcomes: input.outcomes ?? "", by: $2)
        }
    }

    func addSection(req: Request) async throws -> Response {
        struct Input: Content { var section_title: String?; var section_summary: String? }
        let input = (try? req.content.decode(Input.self)) ?? Input()
        return try await act(req, values: ["section_title": input.section_title ?? "", "section_summary": input.section_summary ?? ""], success: "course.saved") {
            try await $0.addSection($1, title: input.section_title ?? "", summary: input.section_summary ?? "", by: $2)
        }
    }

    func section(_ req: Request, _ course: Course) async throws -> CourseSection {
        guard let id = req.parameters.get("sectionID", as: UUID.self), let section = try await CourseSection.find(id, on: req.db),
              section.$course.id == course.id else { throw Abort(.notFound) }
        return section
    }

    func item(_ req: Request, _ course: Course) async throws -> CourseItem {
        guard let id = req.parameters.get("itemID", as: UUID.self), let item = try await CourseItem.find(id, on: req.db),
              let section = try await CourseSection.find(item.$section.id, on: req.db), section.$course.id == course.id else { throw Abort(.notFound) }
        return item
    }

    func moveSection(req: Request) async throws -> Response {
        let up = (try? req.content.get(String.self, at: "direction")) == "up"
        return try await act(req, success: "course.moved") { service, course, actor in
            try await service.moveSection(course, try await section(req, course), up: up, by: actor)
        }
    }

    func deleteSection(req: Request) async throws -> Response {
        try await act(req, success: "course.deleted") { service, course, actor in
            try await service.deleteSection(course, try await section(req, course), by: actor)
        }
    }

    static func itemInput(_ req: Request) -> CourseService.ItemInput {
        struct Input: Content { var item_kind: String?; var item_title: String?; var item_body: String?; var item_url: String?; var item_record: String? }
        let input = (try? req.content.decode(Input.self)) ?? Input()
        return .init(kind: input.item_kind ?? "page", title: input.item_title ?? "", body: input.item_body ?? "", url: input.item_url ?? "",
                     record: input.item_record ?? "")
    }

    static func values(_ input: CourseService.ItemInput) -> [String: String] {
        ["item_kind": input.kind, "item_title": input.title, "item_body": input.body, "item_url": input.url, "item_record": input.record]
    }

    func addItem(req: Request) async throws -> Response {
        let input = Self.itemInput(req)
        let sectionID = req.parameters.get("sectionID") ?? ""
        return try await act(req, values: Self.values(input), formSection: sectionID, success: "course.saved") { service, course, actor in
            _ = try await service.addItem(course, section: try await section(req, course), input, by: actor)
        }
    }

    struct ItemView: Encodable {
        var courseTitle: String
        var buildHref: String
        var action: String
        var attachAction: String
        var form: FormState
        var kinds: [Choice]
        var attachments: [Choice]
        var isPage: Bool
    }

    func itemView(_ req: Request, _ course: Course, _ item: CourseItem, values: [String: String], errors: FieldErrors?) async throws -> ItemView {
        var form = FormState(values: values)
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)) }
        let base = "/courses/\(course.id!.uuidString)/items/\(item.id!.uuidString)"
        return ItemView(
            courseTitle: course.title, buildHref: "/courses/\(course.id!.uuidString)/build", action: base + "/edit", attachAction: base + "/attachments",
            form: form, kinds: CourseItem.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: $0.rawValue == values["item_kind"]) },
            attachments: try await CourseAttachment.query(on: req.db).filter(\.$item.$id == item.requireID()).all().map {
                Choice(value: $0.mediaType, label: "\($0.filename) (\(req.formatNumber(Double($0.size) / 1024, fractionDigits: 0)) KB)", selected: false)
            }, isPage: item.kind == .page)
    }

    func editItemForm(req: Request) async throws -> Response {
        let (course, _) = try await editable(req)
        let item = try await item(req, course)
        let values = Self.values(.init(kind: item.kind.rawValue, title: item.title, body: item.body, url: item.url,
                                       record: item.recordID.map { "\(req.application.config.baseURL)/repository/\($0.uuidString)" } ?? ""))
        return try await req.page("courses/item", titleKey: "course.edit_item", try await itemView(req, course, item, values: values, errors: nil))
    }

    func updateItem(req: Request) async throws -> Response {
        let (course, actor) = try await editable(req)
        let item = try await item(req, course)
        let input = Self.itemInput(req)
        do {
            try await req.courses.updateItem(course, item: item, input, by: actor)
            req.flash("success", "course.saved")
            return req.seeOther("/courses/\(course.id!.uuidString)/build")
        } catch let errors as FieldErrors {
            return try await req.page("courses/item", titleKey: "course.edit_item",
                                      try await itemView(req, course, item, values: Self.values(input), errors: errors), status: .unprocessableEntity)
        }
    }

    func moveItem(req: Request) async throws -> Response {
        let up = (try? req.content.get(String.self, at: "direction")) == "up"
        return try await act(req, success: "course.moved") { service, course, actor in
            try await service.moveItem(course, try await item(req, course), up: up, by: actor)
        }
    }

    func deleteItem(req: Request) async throws -> Response {
        try await act(req, success: "course.deleted") { service, course, actor in
            try await service.deleteItem(course, try await item(req, course), by: actor)
        }
    }

    func attach(req: Request) async throws -> Response {
        let (course, actor) = try await editable(req)
        let item = try await item(req, course)
        struct Upload: Content { var attachment: File? }
        let upload = try? req.content.decode(Upload.self)
        do {
            guard let file = upload?.attachment, file.data.readableBytes > 0 else { throw FieldErrors([("attachment", "repository.error.file-empty")]) }
            try await req.courses.attach(course, item: item, filename: file.filename, data: Data(file.data.readableBytesView), by: actor)
            req.flash("success", "course.attached")
            return req.seeOther("/courses/\(course.id!.uuidString)/items/\(item.id!.uuidString)/edit")
        } catch let errors as FieldErrors {
            let values = Self.values(.init(kind: item.kind.rawValue, title: item.title, body: item.body, url: item.url, record: ""))
            return try await req.page("courses/item", titleKey: "course.edit_item",
                                      try await itemView(req, course, item, values: values, errors: errors), status: .unprocessableEntity)
        }
    }
}
