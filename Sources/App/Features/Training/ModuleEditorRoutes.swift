import Fluent
import Vapor

struct ModuleEditorRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let signedIn = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("training", "modules")
        signedIn.get("new", use: newForm)
        signedIn.post(use: create)
        signedIn.get(":slug", "edit", use: editForm)
        signedIn.post(":slug", "edit", use: update)
        signedIn.post(":slug", "state", use: move)
        routes.get("training", "modules", ":slug", "v", ":version", use: version)
    }

    func find(_ req: Request) async throws -> TrainingModule {
        guard let slug = req.parameters.get("slug"), let module = try await TrainingModule.query(on: req.db).filter(\.$slug == slug).first() else {
            throw Abort(.notFound)
        }
        return module
    }

    struct FormView: Encodable {
        struct SectionField: Encodable { var name: String; var label: String; var value: String; var error: String? }
        var form: FormState
        var action: String
        var isNew: Bool
        var languages: [Choice]
        var languageLinks: [Choice]
        var kinds: [Choice]
        var formats: [Choice]
        var areas: [Choice]
        var sections: [SectionField]
    }

    static func input(from pairs: [(String, String)]) -> ModuleInput {
        var input = ModuleInput()
        for (name, value) in pairs {
            switch name {
            case "language": input.language = value
            case "title": input.title = value
            case "summary": input.summary = value
            case "outcomes": input.outcomes = value
            case "areas[]": input.areas.append(value)
            case "hours": input.hours = value
            case "format": input.format = value
            case "kind": input.kind = value
            case "materials": input.materials = value
            default:
                if TrainingModule.sections.contains(name) { input.sections[name] = value }
            }
        }
        return input
    }

    static func input(from module: TrainingModule, language: String, baseURL: String) -> ModuleInput {
        ModuleInput(language: language, title: module.title[language] ?? "", summary: module.summary[language] ?? "",
                    outcomes: module.outcomes[language] ?? "",
                    sections: Dictionary(uniqueKeysWithValues: TrainingModule.sections.map { ($0, module.sections[$0]?[language] ?? "") }),
                    areas: module.areas, hours: LocaleFormat.number(module.hours, .en, fractionDigits: module.hours == module.hours.rounded() ? 0 : 1),
                    format: module.format, kind: module.kind.rawValue,
                    materials: module.materials.map { "\(baseURL)/repository/\($0.uuidString)" }.joined(separator: "\n"))
    }

    func formView(_ req: Request, _ input: ModuleInput, errors: FieldErrors?, action: String, isNew: Bool, slug: String? = nil) async throws -> FormView {
        var form = FormState(values: ["title": input.title, "summary": input.summary, "outcomes": input.outcomes, "hours": input.hours,
                                      "materials": input.materials])
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)) }
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        return FormView(
            form: form, action: action, isNew: isNew,
            languages: UILocale.allCases.map { Choice(value: $0.rawValue, label: $0.nativeName, selected: $0.rawValue == input.language) },
            languageLinks: slug.map { slug in UILocale.allCases.map { Choice(value: "/training/modules/\(slug)/edit?language=\($0.rawValue)", label: $0.nativeName, selected: $0.rawValue == input.language) } } ?? [],
            kinds: TrainingModule.Kind.allCases.map { Choice(value: $0.rawValue, label: req.t("training.module_kind.\($0.rawValue)"), selected: $0.rawValue == input.kind) },
            formats: ["workshop", "webinar", "blended"].map { Choice(value: $0, label: req.t("training.format.\($0)"), selected: $0 == input.format) },
            areas: areas.map { Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: input.areas.contains($0.code)) },
            sections: TrainingModule.sections.map { .init(name: $0, label: req.t("training.section.\($0)"), value: input.sections[$0] ?? "", error: form.errors[$0]) })
    }

    func newForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard ModuleService(db: req.db).canWrite(actor) else { throw Forbidden() }
        var input = ModuleInput()
        input.language = req.locale.rawValue
        return try await req.page("training/module-form", titleKey: "training.new_module", try await formView(req, input, errors: nil, action: "/training/modules", isNew: true))
    }

    func create(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        do {
            let module = try await ModuleService(db: req.db).create(input, by: actor)
            req.flash("success", "training.module_saved")
            return req.seeOther("/training/modules/\(module.slug)")
        } catch let errors as FieldErrors {
            return try await req.page("training/module-form", titleKey: "training.new_module",
                                      try await formView(req, input, errors: errors, action: "/training/modules", isNew: true), status: .unprocessableEntity)
        }
    }

    func editForm(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let module = try await find(req)
        guard try await ModuleService(db: req.db).canEdit(module, actor) else { throw Forbidden() }
        let language = (try? req.query.get(String.self, at: "language")).flatMap { UILocale(rawValue: $0)?.rawValue } ?? req.locale.rawValue
        return try await req.page("training/module-form", titleKey: "training.edit_module", try await formView(
            req, Self.input(from: module, language: language, baseURL: req.application.config.baseURL), errors: nil,
            action: "/training/modules/\(module.slug)/edit", isNew: false, slug: module.slug))
    }

    func update(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let module = try await find(req)
        let input = Self.input(from: Responding.formPairs(req.body.string ?? ""))
        do {
            try await ModuleService(db: req.db).update(module, input, by: actor)
            req.flash("success", "training.module_saved")
            return req.seeOther("/training/modules/\(module.slug)")
        } catch let errors as FieldErrors {
            return try await req.page("training/module-form", titleKey: "training.edit_module", try await formView(
                req, input, errors: errors, action: "/training/modules/\(module.slug)/edit", isNew: false, slug: module.slug), status: .unprocessableEntity)
        }
    }

    func move(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let module = try await find(req)
        guard let state = (try? req.content.get(String.self, at: "state")).flatMap(TrainingModule.State.init(rawValue:)) else { throw Abort(.badRequest) }
        do {
            try await ModuleService(db: req.db).move(module, to: state, by: actor)
            req.flash("success", "training.module_moved", req.t(state.catalogKey))
        } catch is FieldErrors {
            req.flash("error", "training.error.module-state")
        }
        return req.seeOther("/training/modules/\(module.slug)")
    }

    struct VersionView: Encodable {
        struct Section: Encodable { var id: String; var heading: String; var html: String }
        var title: String
        var moduleHref: String
        var version: String
        var saved: String
        var outcomes: String
        var sections: [Section]
    }

    /// An earlier version, shown with a notice that a newer one exists.
    func version(req: Request) async throws -> Response {
        let module = try await find(req)
        guard let number = req.parameters.get("version", as: Int.self),
              let row = try await TrainingModuleVersion.query(on: req.db).filter(\.$module.$id == module.requireID()).filter(\.$version == number).first(),
              let snapshot = try? JSONDecoder().decode(ModuleService.Snapshot.self, from: Data(row.snapshot.utf8)) else { throw Abort(.notFound) }
        return try await req.page("training/module-version", titleKey: "training.module_title", titleArguments: [localized(snapshot.title, req.locale)], VersionView(
            title: localized(snapshot.title, req.locale), moduleHref: "/training/modules/\(module.slug)", version: String(number),
            saved: req.formatDate(snapshot.savedAt), outcomes: Markdown.html(localized(snapshot.outcomes, req.locale)),
            sections: TrainingModule.sections.map { .init(id: "section-\($0)", heading: req.t("training.section.\($0)"), html: Markdown.html(localized(snapshot.sections[$0] ?? [:], req.locale))) }))
    }
}
