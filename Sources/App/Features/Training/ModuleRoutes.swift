import Fluent
import Vapor

/// The training toolkit: modules with outcomes and their five sections (Markdown rendered by cmark, safe mode),
/// shipped guidelines among them; each module page links to its events and offers "plan an event from this module".
struct ModuleRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        routes.get("training", use: index)
        routes.get("training", "modules", ":slug", use: show)
    }

    struct ModuleRow: Encodable {
        var href: String
        var title: String
        var summary: String
        var kind: String
        var hours: String
        var areas: String
        var state: String
    }

    struct IndexView: Encodable {
        var guidelines: [ModuleRow]
        var modules: [ModuleRow]
        var drafts: [ModuleRow]
        var isCoordinator: Bool
        var canWrite: Bool
    }

    func row(_ req: Request, _ module: TrainingModule) -> ModuleRow {
        .init(href: "/training/modules/\(module.slug)", title: localized(module.title, req.locale), summary: localized(module.summary, req.locale),
              kind: req.t("training.module_kind.\(module.kind.rawValue)"), hours: req.formatNumber(module.hours, fractionDigits: 0),
              areas: module.areas.joined(separator: ", "), state: req.t(module.state.catalogKey))
    }

    func index(req: Request) async throws -> Response {
        let all = try await TrainingModule.query(on: req.db).sort(\.$slug).all()
        let modules = all.filter { [.piloted, .approved, .published].contains($0.state) }
        let actor = try await req.actor()
        // Modules still being written are shown to the people who write and approve them.
        let drafts = actor.map { actor in all.filter { [.proposed, .inDesign].contains($0.state) && (actor.isCoordinator || $0.createdByID == actor.userID) } } ?? []
        return try await req.page("training/index", titleKey: "training.title", IndexView(
            guidelines: modules.filter { $0.kind == .guideline }.map { row(req, $0) },
            modules: modules.filter { $0.kind != .guideline }.map { row(req, $0) },
            drafts: drafts.map { row(req, $0) },
            isCoordinator: actor?.isCoordinator ?? false,
            canWrite: actor.map { ModuleService(db: req.db).canWrite($0) } ?? false))
    }

    struct ShowView: Encodable {
        struct Section: Encodable { var id: String; var heading: String; var html: String }
        struct Material: Encodable { var href: String; var title: String }
        var title: String
        var summary: String
        var kind: String
        var state: String
        var version: Int
        var hours: String
        var format: String
        var areas: [String]
        var outcomes: String
        var sections: [Section]
        var materials: [Material]
        var events: [EventRoutes.EventRow]
        var planHref: String?
        var courseHref: String?
        var badgeHref: String
        var language: String
        var editHref: String?
        var moves: [Choice]
        var moveAction: String
        var versions: [Choice]
    }

    func show(req: Request) async throws -> Response {
        guard let slug = req.parameters.get("slug"),
              let module = try await TrainingModule.query(on: req.db).filter(\.$slug == slug).first() else { throw Abort(.notFound) }
        let areas = try await Area.query(on: req.db).all()
        var materials: [ShowView.Material] = []
        for recordID in module.materials {
            guard let record = try await RepositoryRecord.find(recordID, on: req.db), record.visibility == .public,
                  let number = record.publishedVersion, record.archivedAt == nil,
                  let version = try await RecordVersion.query(on: req.db).filter(\.$record.$id == recordID).filter(\.$number == number).first()
            else { continue }
            materials.append(.init(href: "/repository/\(recordID.uuidString)", title: version.title))
        }
        let events = try await TrainingEvent.query(on: req.db).filter(\.$module.$id == module.requireID()).all()
        var canPlan = false
        if let actor = try await req.actor() { canPlan = try await !EventRoutes().creatableInstitutions(req, actor).isEmpty }
        let language = module.title[req.locale.rawValue] != nil ? req.locale.rawValue : "en"
        var editHref: String?
        var moves: [Choice] = []
        if let actor = try await req.actor() {
            let service = ModuleService(db: req.db)
            if try await service.canEdit(module, actor) { editHref = "/training/modules/\(module.slug)/edit" }
            if editHref != nil || actor.isCoordinator {
                moves = (ModuleWorkflow.next[module.state] ?? []).filter { !ModuleWorkflow.needsCoordinator($0) || actor.isCoordinator }
                    .map { Choice(value: $0.rawValue, label: req.t($0.catalogKey), selected: false) }
            }
        }
        let versions = try await TrainingModuleVersion.query(on: req.db).filter(\.$module.$id == module.requireID()).sort(\.$version, .descending).all()
        return try await req.page("training/module", titleKey: "training.module_title", titleArguments: [localized(module.title, req.locale)], ShowView(
            title: localized(module.title, req.locale), summary: localized(module.summary, req.locale),
            kind: req.t("training.module_kind.\(module.kind.rawValue)"), state: req.t(module.state.catalogKey), version: module.version,
            hours: req.formatNumber(module.hours, fractionDigits: 0), format: req.t("training.format.\(module.format)"),
            areas: module.areas.map { code in "\(code) · " + (areas.first { $0.code == code }.map { localized($0.names, req.locale) } ?? "") },
            outcomes: Markdown.html(localized(module.outcomes, req.locale)),
            sections: TrainingModule.sections.map { name in
                .init(id: "section-\(name)", heading: req.t("training.section.\(name)"), html: Markdown.html(localized(module.sections[name] ?? [:], req.locale)))
            },
            materials: materials, events: try await EventRoutes().rows(req, events),
            planHref: canPlan ? "/events/new?module=\(module.id!.uuidString)" : nil,
            courseHref: canPlan ? "/courses/new?module=\(module.id!.uuidString)" : nil,
            badgeHref: "/badges/classes/\(module.id!.uuidString.lowercased())", language: language,
            editHref: editHref, moves: moves, moveAction: "/training/modules/\(module.slug)/state",
            versions: versions.map { Choice(value: "/training/modules/\(module.slug)/v/\($0.version)",
                                            label: req.t("training.version_n", String($0.version)) + " · " + req.formatDate($0.createdAt), selected: false) }))
    }
}

/// Ships the toolkit's modules (Resources/Seed/training-modules.json): the two guidelines and the train-the-trainers
/// module. Adds only slugs that are not there yet; never overwrites a module someone edited.
struct SeedTrainingModules: AsyncMigration {
    var name: String { "0017_seed_training_modules" }

    struct Entry: Decodable {
        var slug: String
        var kind: String
        var areas: [String]
        var hours: Double
        var format: String
        var title: [String: String]
        var summary: [String: String]
        var outcomes: [String: String]
        var objectives: [String: String]
        var content: [String: String]
        var activities: [String: String]
        var assessment: [String: String]
        var evaluation: [String: String]
    }

    func prepare(on db: any Database) async throws {
        let entries = try SeedFile.decode([Entry].self, named: "training-modules.json")
        let existing = Set(try await TrainingModule.query(on: db).all().map(\.slug))
        for entry in entries where !existing.contains(entry.slug) {
            let module = TrainingModule()
            module.slug = entry.slug
            module.kind = TrainingModule.Kind(rawValue: entry.kind) ?? .module
            module.state = .published
            module.version = 1
            module.title = entry.title
            module.summary = entry.summary
            module.outcomes = entry.outcomes
            module.sections = ["objectives": entry.objectives, "content": entry.content, "activities": entry.activities,
                               "assessment": entry.assessment, "evaluation": entry.evaluation]
            module.areas = entry.areas
            module.hours = entry.hours
            module.format = entry.format
            module.materials = []
            try await module.create(on: db)
        }
    }

    func revert(on db: any Database) async throws {}
}
