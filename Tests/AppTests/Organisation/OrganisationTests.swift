@testable import App
import Fluent
import Testing
import Vapor
import VaporTesting

@Suite("Institutions, units and IaH structures")
struct OrganisationTests {
    func institutionFields(_ short: String = "UNYT", country: String = "AL", website: String = "https://unyt.edu.al") -> [(String, String)] {
        [("names[en]", "University of New York Tirana"), ("names[sq]", "Universiteti i Nju Jorkut në Tiranë"), ("short_name", short),
         ("country_code", country), ("city", "Tirana"), ("website", website), ("kind", "private_university")]
    }

    @Test("the demo data set holds the INTERBA partners and an institution in every Western Balkan country")
    func demoData() async throws {
        try await withInterba { app in
            let slugs = Set(try await Institution.query(on: app.db).all().map(\.slug))
            #expect(slugs.isSuperset(of: ["tirana", "uet", "prishtina", "tuzla", "mostar", "middlesex", "cesie"]))
            let countries = Set(try await Institution.query(on: app.db).all().map(\.countryCode))
            #expect(countries.isSuperset(of: ["AL", "XK", "BA", "ME", "MK", "RS"]))
            #expect(try await Country.query(on: app.db).filter(\.$code == "XK").first() != nil)
            let roles = Set(try await RoleAssignment.query(on: app.db).all().map(\.role))
            #expect(roles == Set(Role.allCases.map(\.rawValue)))
            #expect(try await IaHStructure.query(on: app.db).count() >= 7)
            #expect(try await OrgUnit.query(on: app.db).count() >= 20)
            // Seeding twice changes nothing.
            #expect(try await DemoSeeder.seed(app, on: app.db) == .alreadySeeded)
        }
    }

    @Test("the directory lists institutions in the visitor's language and finds them without diacritics")
    func directory() async throws {
        try await withInterba { app in
            let client = WebClient(app)
            let all = try await client.get("/institutions?lang=sq")
            #expect(all.body.string.contains("Universiteti i Tiranës"))
            let found = try await client.get("/institutions?q=dzemal")
            #expect(found.body.string.contains("Džemal"))
            #expect(!found.body.string.contains("Middlesex"))
        }
    }

    @Test("a national coordinator creates an institution in their country, not in another")
    func create() async throws {
        try await withInterba { app in
            let national = WebClient(app)
            try await national.signIn(demo("national.al"))
            let created = try await national.post("/institutions", institutionFields())
            #expect(created.status == .seeOther)
            let institution = try await app.institution("unyt")
            #expect(institution.names["sq"] == "Universiteti i Nju Jorkut në Tiranë")
            #expect(institution.kind == .privateUniversity)
            let elsewhere = try await national.post("/institutions", institutionFields("UNYT2", country: "BA"))
            #expect(elsewhere.status == .forbidden)

            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.post("/institutions", institutionFields("X1")).status == .forbidden)
        }
    }

    @Test("an invalid institution form is re-shown with messages and every value kept")
    func invalidForm() async throws {
        try await withInterba { app in
            let admin = WebClient(app)
            try await admin.signIn(demo("admin"))
            let before = try await Institution.query(on: app.db).count()
            var fields = institutionFields("", website: "not a url")
            fields[0].1 = ""
            let response = try await admin.post("/institutions", fields)
            #expect(response.status == .unprocessableEntity)
            let html = response.body.string
            #expect(html.contains(app.catalog.text("validation.name_required", .en).html))
            #expect(html.contains(app.catalog.text("validation.short_name", .en).html))
            #expect(html.contains(app.catalog.text("validation.website_invalid", .en).html))
            #expect(html.contains("value=\"not a url\""))
            #expect(html.contains("Universiteti i Nju Jorkut në Tiranë"))
            #expect(try await Institution.query(on: app.db).count() == before)
        }
    }

    @Test("a coordinator of institution A edits A, its units and IaH structure, and cannot touch B")
    func boundaries() async throws {
        try await withInterba { app in
            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            let tirana = try await app.institution("tirana")
            let uet = try await app.institution("uet")
            let tiranaID = try tirana.requireID().uuidString
            let uetID = try uet.requireID().uuidString
            var fields = institutionFields("UT")
            fields[0].1 = "University of Tirana (edited)"
            #expect(try await coordinator.post("/institutions/\(tiranaID)", fields).status == .seeOther)
            #expect(try await app.institution("tirana").names["en"] == "University of Tirana (edited)")
            #expect(try await coordinator.post("/institutions/\(uetID)", fields).status == .forbidden)
            #expect(try await coordinator.get("/institutions/\(uetID)/edit").status == .forbidden)

            #expect(try await coordinator.post("/institutions/\(tiranaID)/units", [("unit_name", "Faculty of History and Philology"), ("unit_kind", "faculty")]).status == .seeOther)
            let unit = try #require(try await OrgUnit.query(on: app.db).filter(\.$name == "Faculty of History and Philology").first())
            #expect(try await coordinator.post("/institutions/\(uetID)/units", [("unit_name", "Sneaky"), ("unit_kind", "office")]).status == .forbidden)
            #expect(try await coordinator.post("/institutions/\(tiranaID)/units/\(unit.requireID())/delete", []).status == .seeOther)
            #expect(try await OrgUnit.find(unit.requireID(), on: app.db) == nil)

            let structure = [("unit_name", "IaH Office"), ("mandate", "Coordinate IaH"), ("staff_fte", "3,5"), ("reports_to", "Rector"), ("status", "modernised")]
            #expect(try await coordinator.post("/institutions/\(tiranaID)/structure", structure).status == .seeOther)
            let saved = try #require(try await IaHStructure.query(on: app.db).filter(\.$institution.$id == tirana.requireID()).first())
            #expect(saved.staffFTE == 3.5)
            #expect(saved.status == .modernised)
            #expect(try await coordinator.post("/institutions/\(uetID)/structure", structure).status == .forbidden)
            let bad = try await coordinator.post("/institutions/\(tiranaID)/structure", [("unit_name", ""), ("staff_fte", "many"), ("status", "modernised")])
            #expect(bad.status == .unprocessableEntity)
            #expect(bad.body.string.contains("value=\"many\""))
        }
    }
}

@Suite("Reference data")
struct ReferenceDataTests {
    @Test("the 13 IaH areas and the other reference data are seeded with names in every UI language")
    func seeded() async throws {
        try await withInterba(seed: false) { app in
            let areas = try await Area.query(on: app.db).sort(\.$position).all()
            #expect(areas.map(\.code) == (1...13).map { "A\($0)" })
            for area in areas {
                #expect(Set(area.names.keys).isSuperset(of: UILocale.allCases.map(\.rawValue)), "\(area.code)")
                #expect(Set(area.descriptions.keys).isSuperset(of: UILocale.allCases.map(\.rawValue)), "\(area.code)")
            }
            #expect(try await ActivityType.query(on: app.db).count() >= 20)
            #expect(try await Licence.query(on: app.db).filter(\.$spdx == "CC-BY-4.0").first() != nil)
            #expect(try await LanguageEntry.query(on: app.db).filter(\.$tag == "sr-Cyrl").first() != nil)
            #expect(try await ResourceType.query(on: app.db).count() == 9)
        }
    }

    @Test("an admin edits an area's translations; others cannot")
    func editArea() async throws {
        try await withInterba { app in
            let admin = WebClient(app)
            try await admin.signIn(demo("admin"))
            #expect(try await admin.get("/admin/reference").status == .ok)
            let saved = try await admin.post("/admin/reference/areas/A4", [("names[en]", "Teaching and learning"), ("names[sq]", "Mësimdhënia dhe të nxënit"),
                                                                          ("descriptions[en]", "COIL and more")])
            #expect(saved.status == .seeOther)
            let area = try #require(try await Area.query(on: app.db).filter(\.$code == "A4").first())
            #expect(area.names["sq"] == "Mësimdhënia dhe të nxënit")
            #expect(try await admin.get("/areas?lang=sq").body.string.contains("Mësimdhënia dhe të nxënit"))
            let noEnglish = try await admin.post("/admin/reference/areas/A4", [("names[sq]", "Vetëm shqip")])
            #expect(noEnglish.status == .unprocessableEntity)
            #expect(try await admin.post("/admin/reference/languages", [("tag", "not a tag"), ("native", "x"), ("language_name_en", "x")]).status == .unprocessableEntity)
            #expect(try await admin.post("/admin/reference/languages", [("tag", "rom"), ("native", "Romani čhib"), ("language_name_en", "Romani")]).status == .seeOther)

            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.get("/admin/reference").status == .forbidden)
            #expect(try await coordinator.post("/admin/reference/areas/A4", [("names[en]", "Hijacked")]).status == .forbidden)
        }
    }
}

@Suite("Names in every language")
struct NameEditorTests {
    @Test("an admin translates an activity type, a language, a country and a region; English is required")
    func translateNames() async throws {
        try await withInterba { app in
            let admin = WebClient(app)
            try await admin.signIn(demo("admin"))
            for path in ["/admin/activity-types/coil", "/admin/languages/sq", "/admin/countries/XK", "/admin/regions/WB"] {
                #expect(try await admin.get(path).status == .ok, "\(path)")
            }
            #expect(try await admin.get("/admin/activity-types/no-such").status == .notFound)
            let saved = try await admin.post("/admin/activity-types/coil", [("names[en]", "COIL course"), ("names[mk]", "COIL курс"), ("parent", "A4")])
            #expect(saved.status == .seeOther)
            let coil = try #require(try await ActivityType.query(on: app.db).filter(\.$code == "coil").first())
            #expect(coil.names == ["en": "COIL course", "mk": "COIL курс"])
            #expect(coil.areaCode == "A4")

            let noEnglish = try await admin.post("/admin/countries/XK", [("names[sq]", "Kosova"), ("parent", "WB")])
            #expect(noEnglish.status == .unprocessableEntity)
            #expect(noEnglish.body.string.contains("value=\"Kosova\""))
            let badRegion = try await admin.post("/admin/countries/XK", [("names[en]", "Kosovo"), ("parent", "MARS")])
            #expect(badRegion.status == .unprocessableEntity)
            #expect(try await admin.post("/admin/countries/XK", [("names[en]", "Kosovo"), ("names[sq]", "Kosova"), ("parent", "WB")]).status == .seeOther)
            #expect(try await Country.query(on: app.db).filter(\.$code == "XK").first()?.names["sq"] == "Kosova")

            #expect(try await admin.post("/admin/languages/sq", [("names[en]", "Albanian"), ("native", "")]).status == .unprocessableEntity)
            #expect(try await admin.post("/admin/regions", [("region_code", "EAP"), ("region_name_en", "Eastern Partnership")]).status == .seeOther)
            #expect(try await Region.query(on: app.db).filter(\.$code == "EAP").first() != nil)

            let coordinator = WebClient(app)
            try await coordinator.signIn(demo("coordinator.tirana"))
            #expect(try await coordinator.post("/admin/regions/WB", [("names[en]", "Hijacked")]).status == .forbidden)
            #expect(try await Region.query(on: app.db).filter(\.$code == "WB").first()?.names["en"] != "Hijacked")
        }
    }
}
