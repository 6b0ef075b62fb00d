@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

@Suite("Questionnaire editor")
struct InstrumentTests {
    @Test("a coordinator makes a new version, adds, translates, reorders and removes questions; a version in use is frozen")
    func editVersions() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let shipped = try #require(try await Instrument.query(on: app.db).first())
            #expect(try await coordinator.get("/instruments").status == .ok)
            #expect(try await coordinator.get("/instruments/\(shipped.requireID())/preview?group=students&page=2").body.string.contains("id=\"preview-note\""))
            // The shipped questionnaire is the platform's: a coordinator may not edit it in place.
            let refused = try await coordinator.post("/instruments/\(shipped.requireID())/items", [("section", "A1"), ("code", "A1.9"), ("kind", "likert"), ("text:en", "x")])
            #expect(refused.status == .forbidden)

            #expect(try await coordinator.post("/instruments/\(shipped.requireID())/new-version", []).status == .seeOther)
            let copy = try #require(try await Instrument.query(on: app.db).filter(\.$version == 2).first())
            #expect(copy.institutionID == (try await app.institution("tirana").requireID()))
            #expect(copy.previousVersionID == shipped.id)
            let id = try copy.requireID()

            let bad = try await coordinator.post("/instruments/\(id)/items", [("section", "A4"), ("code", "A4.1"), ("kind", "single_choice"), ("text:sq", "Vetëm shqip"), ("options", "a|A")])
            #expect(bad.status == .unprocessableEntity)
            for key in ["validation.code_taken", "instrument.error.text", "instrument.error.options"] {
                #expect(bad.body.string.contains(app.catalog.text(key, .en).html), "\(key)")
            }
            let added = try await coordinator.post("/instruments/\(id)/items", [("section", "A4"), ("code", "A4.9"), ("kind", "single_choice"), ("required", "yes"),
                                                                             ("text:en", "Do you co-teach with a partner abroad?"), ("text:sq", "A jepni mësim së bashku me një partner jashtë?"),
                                                                             ("options", "yes|Yes\nno|No"), ("groups[]", "academic_staff")])
            #expect(added.status == .seeOther)
            var definition = try #require(try await Instrument.find(id, on: app.db)).definition
            let item = try #require(definition.item("A4.9"))
            #expect(item.kind == .singleChoice && item.required && item.groups == ["academic_staff"])
            #expect(item.options?.map(\.code) == ["yes", "no"])
            #expect(definition.sections(for: "students").flatMap(\.items).contains { $0.code == "A4.9" } == false)

            let saved = try await coordinator.post("/instruments/\(id)/items/A4.9", [("text:en", "Do you co-teach with a colleague abroad?"), ("text:mk", "Дали предавате заедно со колега од странство?"),
                                                                                  ("option:yes:en", "Yes"), ("option:yes:mk", "Да"), ("required", "yes")])
            #expect(saved.status == .seeOther)
            definition = try #require(try await Instrument.find(id, on: app.db)).definition
            #expect(definition.item("A4.9")?.text["mk"] == "Дали предавате заедно со колега од странство?")
            #expect(definition.item("A4.9")?.options?.first?.label["mk"] == "Да")
            #expect(definition.item("A4.9")?.groups == nil, "no group ticked: everyone")

            let before = definition.sections.first { $0.code == "A4" }!.items.map(\.code)
            _ = try await coordinator.post("/instruments/\(id)/items/A4.9/move", [("direction", "up")])
            let after = try #require(try await Instrument.find(id, on: app.db)).definition.sections.first { $0.code == "A4" }!.items.map(\.code)
            #expect(after.last == before[before.count - 2] && after[after.count - 2] == "A4.9")
            _ = try await coordinator.post("/instruments/\(id)/items/A4.1/delete", [])
            #expect(try #require(try await Instrument.find(id, on: app.db)).definition.item("A4.1") == nil)

            // Once a campaign opens with it, the version is frozen.
            let campaign = try await CampaignFixture.create(coordinator, app, title: "With v2")
            campaign.$instrument.id = id
            try await campaign.save(on: app.db)
            _ = try await coordinator.post("/campaigns/\(campaign.requireID())/open", [])
            #expect(try await Instrument.find(id, on: app.db)?.frozen == true)
            let frozen = try await coordinator.post("/instruments/\(id)/items/A4.9/delete", [])
            #expect(frozen.status == .seeOther)
            #expect(try #require(try await Instrument.find(id, on: app.db)).definition.item("A4.9") != nil, "a frozen version does not change")

            let other = WebClient(app)
            try await other.signIn(demo("coordinator.uet"))
            #expect(try await other.get("/instruments/\(id)").status == .forbidden, "another institution's version is private")
        }
    }
}
