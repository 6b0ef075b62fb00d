import Fluent
import Vapor

/// Coordinators: see, preview, version and edit questionnaires (add, reorder, translate, remove items).
struct InstrumentRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let instruments = routes.grouped(User.redirectMiddleware(path: "/signin")).grouped("instruments")
        instruments.get(use: index)
        instruments.get(":id", use: show)
        instruments.get(":id", "preview", use: preview)
        instruments.post(":id", "new-version", use: newVersion)
        instruments.post(":id", "items", use: addItem)
        instruments.get(":id", "items", ":code", use: editItem)
        instruments.post(":id", "items", ":code", use: saveItem)
        instruments.post(":id", "items", ":code", "move", use: move)
        instruments.post(":id", "items", ":code", "delete", use: remove)
    }

    func find(_ req: Request) async throws -> (Instrument, Actor) {
        let actor = try await req.requireActor()
        guard let id = req.parameters.get("id", as: UUID.self), let instrument = try await Instrument.find(id, on: req.db) else { throw Abort(.notFound) }
        guard InstrumentService.canSee(instrument, actor) else { throw Forbidden() }
        return (instrument, actor)
    }

    // MARK: list

    struct IndexView: Encodable {
        struct Row: Encodable {
            var id: String
            var title: String
            var version: Int
            var owner: String
            var items: Int
            var frozen: Bool
        }
        var rows: [Row]
    }

    func index(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        let institutions = Dictionary(uniqueKeysWithValues: try await Institution.query(on: req.db).all().map { ($0.id!, $0.shortName) })
        let rows = try await Instrument.query(on: req.db).sort(\.$code).sort(\.$version).all()
            .filter { InstrumentService.canSee($0, actor) }
            .map { instrument in
                IndexView.Row(id: instrument.id!.uuidString, title: localized(instrument.definition.title, req.locale), version: instrument.version,
                              owner: instrument.institutionID.flatMap { institutions[$0] } ?? req.t("instrument.shipped"),
                              items: instrument.definition.items.count, frozen: instrument.frozen)
            }
        return try await req.page("instruments/index", titleKey: "instruments.title", IndexView(rows: rows))
    }

    // MARK: one instrument

    struct ShowView: Encodable {
        struct Item: Encodable {
            var code: String
            var kind: String
            var text: String
            var required: Bool
            var groups: String
            var first: Bool
            var last: Bool
        }
        struct Section: Encodable {
            var code: String
            var title: String
            var items: [Item]
        }
        var id: String
        var title: String
        var version: Int
        var frozen: Bool
        var editable: Bool
        var sections: [Section]
        var sectionChoices: [Choice]
        var kinds: [Choice]
        var groups: [Choice]
        var locales: [Choice]
        var form: FormState
        var previewGroups: [Choice]
    }

    func showView(_ req: Request, _ instrument: Instrument, _ actor: Actor, form: FormState = FormState()) -> ShowView {
        let definition = instrument.definition
        return ShowView(
            id: instrument.id!.uuidString, title: localized(definition.title, req.locale), version: instrument.version, frozen: instrument.frozen,
            editable: InstrumentService.canEdit(instrument, actor) && !instrument.frozen,
            sections: definition.sections.map { section in
                .init(code: section.code, title: localized(section.title, req.locale), items: section.items.enumerated().map { index, item in
                    .init(code: item.code, kind: req.t("instrument.kind.\(item.kind.rawValue)"), text: localized(item.text, req.locale), required: item.required,
                          groups: (item.groups ?? []).map { req.t("group.\($0)") }.joined(separator: ", "),
                          first: index == 0, last: index == section.items.count - 1)
                })
            },
            sectionChoices: definition.sections.map { .init(value: $0.code, label: "\($0.code) · \(localized($0.title, req.locale))", selected: $0.code == form.values["section"]) },
            kinds: InstrumentDefinition.Kind.allCases.map { .init(value: $0.rawValue, label: req.t("instrument.kind.\($0.rawValue)"), selected: $0.rawValue == (form.values["kind"] ?? "importance_performance")) },
            groups: InstrumentDefinition.stakeholderGroups.map { .init(value: $0, label: req.t("group.\($0)"), selected: (form.values["groups"] ?? "").split(separator: ",").contains(Substring($0))) },
            locales: UILocale.allCases.map { .init(value: $0.rawValue, label: $0.nativeName, selected: false) },
            form: form,
            previewGroups: InstrumentDefinition.stakeholderGroups.map { .init(value: $0, label: req.t("group.\($0)"), selected: false) })
    }

    func show(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        return try await req.page("instruments/show", titleKey: "instrument.title", titleArguments: [localized(instrument.definition.title, req.locale), String(instrument.version)],
                                  showView(req, instrument, actor))
    }

    func preview(req: Request) async throws -> Response {
        let (instrument, _) = try await find(req)
        let group = req.query[String.self, at: "group"].flatMap { InstrumentDefinition.stakeholderGroups.contains($0) ? $0 : nil } ?? "academic_staff"
        let total = instrument.definition.sections(for: group).count
        let number = min(max(req.query[Int.self, at: "page"] ?? 1, 1), max(total, 1))
        var view = RespondRoutes().pageView(req, token: "preview", instrument: instrument, group: group, number: number, answers: [:], problems: [:])
        view.previewBase = "/instruments/\(instrument.id!.uuidString)/preview?group=\(group)"
        return try await req.page("respond/page", titleKey: "respond.page_title", titleArguments: [String(number), String(total)], view)
    }

    func newVersion(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        let copy = try await req.instruments.newVersion(of: instrument, by: actor)
        req.flash("success", "instrument.new_version_done", String(copy.version))
        return req.seeOther("/instruments/\(copy.id!.uuidString)")
    }

    func addItem(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        let pairs = Responding.formPairs(req.body.string ?? "")
        func value(_ name: String) -> String { pairs.first { $0.0 == name }?.1 ?? "" }
        var texts: [String: String] = [:]
        for locale in UILocale.allCases { texts[locale.rawValue] = value("text:\(locale.rawValue)") }
        let groups = pairs.filter { $0.0 == "groups[]" }.map(\.1)
        let input = InstrumentService.ItemInput(sectionCode: value("section"), code: value("code"), kind: value("kind"), required: value("required") == "yes",
                                                texts: texts, options: value("options"), groups: groups)
        do {
            try await req.instruments.addItem(input, to: instrument, by: actor)
            req.flash("success", "instrument.item_added", input.code)
            return req.seeOther("/instruments/\(instrument.id!.uuidString)#section-\(input.sectionCode)")
        } catch let errors as FieldErrors {
            var form = FormState(values: ["section": value("section"), "code": value("code"), "kind": value("kind"), "options": value("options"),
                                          "groups": groups.joined(separator: ",")])
            for locale in UILocale.allCases { form.values["text_\(locale.rawValue)"] = texts[locale.rawValue] }
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            return try await req.page("instruments/show", titleKey: "instrument.title",
                                      titleArguments: [localized(instrument.definition.title, req.locale), String(instrument.version)],
                                      showView(req, instrument, actor, form: form), status: instrument.frozen ? .conflict : .unprocessableEntity)
        }
    }

    // MARK: one item

    struct ItemView: Encodable {
        struct Text: Encodable {
            var locale: String
            var label: String
            var text: String
            var help: String
        }
        struct OptionTexts: Encodable {
            var code: String
            var labels: [Text]
        }
        var instrumentID: String
        var code: String
        var kind: String
        var required: Bool
        var texts: [Text]
        var options: [OptionTexts]
        var groups: [Choice]
        var form: FormState
    }

    func itemView(_ req: Request, _ instrument: Instrument, code: String, form: FormState = FormState()) throws -> ItemView {
        guard let item = instrument.definition.item(code) else { throw Abort(.notFound) }
        return ItemView(
            instrumentID: instrument.id!.uuidString, code: item.code, kind: req.t("instrument.kind.\(item.kind.rawValue)"), required: item.required,
            texts: UILocale.allCases.map { .init(locale: $0.rawValue, label: $0.nativeName, text: item.text[$0.rawValue] ?? "", help: item.help?[$0.rawValue] ?? "") },
            options: (item.options ?? []).map { option in
                .init(code: option.code, labels: UILocale.allCases.map { .init(locale: $0.rawValue, label: $0.nativeName, text: option.label[$0.rawValue] ?? "", help: "") })
            },
            groups: InstrumentDefinition.stakeholderGroups.map { .init(value: $0, label: req.t("group.\($0)"), selected: item.groups?.contains($0) ?? false) },
            form: form)
    }

    func editItem(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        try req.instruments.requireEditable(instrument, actor)
        let code = try req.parameters.require("code")
        return try await req.page("instruments/item", titleKey: "instrument.item_title", titleArguments: [code], itemView(req, instrument, code: code))
    }

    func saveItem(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        let code = try req.parameters.require("code")
        let pairs = Responding.formPairs(req.body.string ?? "")
        var texts: [String: String] = [:], help: [String: String] = [:], labels: [String: [String: String]] = [:]
        for (name, value) in pairs {
            let parts = name.split(separator: ":").map(String.init)
            if parts.count == 2, parts[0] == "text" { texts[parts[1]] = value }
            if parts.count == 2, parts[0] == "help" { help[parts[1]] = value }
            if parts.count == 3, parts[0] == "option" { labels[parts[1], default: [:]][parts[2]] = value }
        }
        do {
            try await req.instruments.updateItem(code, texts: texts, help: help, required: pairs.contains { $0 == ("required", "yes") },
                                                 groups: pairs.filter { $0.0 == "groups[]" }.map(\.1), optionLabels: labels, in: instrument, by: actor)
            req.flash("success", "instrument.item_saved", code)
            return req.seeOther("/instruments/\(instrument.id!.uuidString)")
        } catch let errors as FieldErrors {
            var form = FormState()
            for (field, key) in errors.fields { form.add(field, req.t(key)) }
            var view = try itemView(req, instrument, code: code, form: form)
            view.texts = view.texts.map { text in var copy = text; copy.text = texts[text.locale] ?? ""; copy.help = help[text.locale] ?? ""; return copy }
            return try await req.page("instruments/item", titleKey: "instrument.item_title", titleArguments: [code], view, status: .unprocessableEntity)
        }
    }

    func move(req: Request) async throws -> Response {
        struct Input: Content { var direction: String }
        let (instrument, actor) = try await find(req)
        let code = try req.parameters.require("code")
        do {
            try await req.instruments.move(code, up: try req.content.decode(Input.self).direction == "up", in: instrument, by: actor)
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/instruments/\(instrument.id!.uuidString)#item-\(code)")
    }

    func remove(req: Request) async throws -> Response {
        let (instrument, actor) = try await find(req)
        let code = try req.parameters.require("code")
        do {
            try await req.instruments.remove(code, from: instrument, by: actor)
            req.flash("success", "instrument.item_removed", code)
        } catch let errors as FieldErrors {
            req.flash("error", errors.fields.first?.1 ?? "error.bad_request")
        }
        return req.seeOther("/instruments/\(instrument.id!.uuidString)")
    }
}
