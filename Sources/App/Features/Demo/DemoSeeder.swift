import Fluent
import Vapor

/// The demo data set: the INTERBA partner universities and a person for every role.
struct DemoSeeder {
    static let password = "interba-demo"
    static let domain = "demo.interba.test"

    struct OrganisationSeed: Decodable {
        struct RegionSeed: Decodable { var code: String; var names: [String: String] }
        struct CountrySeed: Decodable { var code: String; var region: String; var names: [String: String] }
        struct UnitSeed: Decodable { var kind: String; var name: String; var children: [UnitSeed] }
        struct StructureSeed: Decodable {
            var unitName: String
            var mandate: String
            var staffFTE: Double
            var reportsTo: String
            var status: String
        }
        struct InstitutionSeed: Decodable {
            var key: String
            var country: String
            var shortName: String
            var names: [String: String]
            var city: String
            var website: String?
            var type: String
            var orgUnits: [UnitSeed]
            var iahStructure: StructureSeed?
        }
        var regions: [RegionSeed]
        var countries: [CountrySeed]
        var institutions: [InstitutionSeed]
    }

    struct DemoAccount {
        var email: String
        var name: String
        var institution: String?
        var roles: [(Role, String?)]  // scope: "country:XX", "institution:<key>", nil
        var status: User.Status = .active
    }

    /// Who gets which role. Scopes name countries and institution keys from organisation.json.
    static let accounts: [DemoAccount] = {
        var list: [DemoAccount] = [
            .init(email: "admin", name: "Ana Admin", institution: nil, roles: [(.admin, nil)]),
            .init(email: "regional", name: "Rina Regional", institution: "uet", roles: [(.regionalCoordinator, nil)]),
            .init(email: "national.al", name: "Arben Kombëtari", institution: "tirana", roles: [(.nationalCoordinator, "country:AL")]),
            .init(email: "national.ba", name: "Amra Državna", institution: "tuzla", roles: [(.nationalCoordinator, "country:BA")]),
            .init(email: "curator.tirana", name: "Blerta Kuratore", institution: "tirana", roles: [(.curator, "institution:tirana"), (.staff, "institution:tirana")]),
            .init(email: "expert.tirana", name: "Eda Eksperte", institution: "tirana", roles: [(.expert, "institution:tirana"), (.staff, "institution:tirana")]),
            .init(email: "trainer.tirana", name: "Gent Trajneri", institution: "tirana", roles: [(.trainer, "institution:tirana"), (.staff, "institution:tirana")]),
            .init(email: "staff.tirana", name: "Sara Stafi", institution: "tirana", roles: [(.staff, "institution:tirana")]),
            .init(email: "staff.prishtina", name: "Driton Berisha", institution: "prishtina", roles: [(.staff, "institution:prishtina")]),
            .init(email: "expert.mostar", name: "Emir Hodžić", institution: "mostar", roles: [(.expert, "institution:mostar"), (.staff, "institution:mostar")]),
            .init(email: "staff.skopje", name: "Марија Петровска", institution: "skopje", roles: [(.staff, "institution:skopje")]),
            .init(email: "pending.tirana", name: "Petrit Pritje", institution: "tirana", roles: [], status: .pending),
        ]
        let coordinators: [(String, String)] = [
            ("tirana", "Teuta Koordinatore"), ("uet", "Klodian Hoxha"), ("prishtina", "Vjosa Krasniqi"), ("tuzla", "Selma Mehić"),
            ("mostar", "Adnan Kovačević"), ("montenegro", "Milica Vuković"), ("skopje", "Александар Стојанов"),
            ("novisad", "Јована Петровић"), ("middlesex", "Hannah Clarke"), ("cesie", "Giulia Romano"),
        ]
        for (key, name) in coordinators {
            list.append(.init(email: "coordinator.\(key)", name: name, institution: key,
                              roles: [(.institutionalCoordinator, "institution:\(key)"), (.staff, "institution:\(key)")]))
        }
        return list
    }()

    enum Outcome: Equatable { case seeded, alreadySeeded }

    /// Loads the demo data set. Refuses to touch a production database that already holds people.
    static func seed(_ app: Application, on db: any Database, withCampaigns: Bool = true, withRecords: Bool = true,
                     withCoordination: Bool = true, withTraining: Bool = true) async throws -> Outcome {
        if try await User.query(on: db).filter(\.$email == "admin@\(domain)").first() != nil { return .alreadySeeded }
        if app.environment == .production, try await User.query(on: db).count() > 0 {
            throw ConfigError("seed-demo refuses to run: this production database already has accounts.")
        }
        let organisation = try SeedFile.decode(OrganisationSeed.self, named: "organisation.json")
        let hash = try Bcrypt.hash(password, cost: app.bcryptCost)
        var adminID: UUID?
        var institutionKeys: [String: UUID] = [:]
        try await db.transaction { db in
            let regions = Set(try await Region.query(on: db).all().map(\.code))
            for region in organisation.regions where !regions.contains(region.code) {
                try await Region(code: region.code, names: region.names).create(on: db)
            }
            let countries = Set(try await Country.query(on: db).all().map(\.code))
            for country in organisation.countries where !countries.contains(country.code) {
                try await Country(code: country.code, regionCode: country.region, names: country.names).create(on: db)
            }
            var institutionIDs: [String: UUID] = [:]
            for seed in organisation.institutions {
                if let existing = try await Institution.query(on: db).filter(\.$slug == seed.key).first() {
                    institutionIDs[seed.key] = existing.id
                    continue
                }
                let institution = Institution(slug: seed.key, names: seed.names, shortName: seed.shortName, countryCode: seed.country,
                                              city: seed.city, website: seed.website, kind: Institution.Kind(rawValue: seed.type) ?? .publicUniversity)
                try await institution.create(on: db)
                let id = try institution.requireID()
                institutionIDs[seed.key] = id
                func addUnits(_ units: [OrganisationSeed.UnitSeed], parent: UUID?) async throws {
                    for unit in units {
                        let model = OrgUnit(institutionID: id, parentID: parent, kind: OrgUnit.Kind(rawValue: unit.kind) ?? .office, name: unit.name)
                        try await model.create(on: db)
                        try await addUnits(unit.children, parent: model.id)
                    }
                }
                try await addUnits(seed.orgUnits, parent: nil)
                if let structure = seed.iahStructure {
                    try await IaHStructure(institutionID: id, unitName: structure.unitName, mandate: structure.mandate,
                                           staffFTE: structure.staffFTE, reportsTo: structure.reportsTo,
                                           status: IaHStructure.Status(rawValue: structure.status) ?? .planned).create(on: db)
                }
            }
            for account in accounts {
                let user = User(email: "\(account.email)@\(domain)", name: account.name, passwordHash: hash, status: account.status,
                                institutionID: account.institution.flatMap { institutionIDs[$0] }, languages: ["en"])
                try await user.create(on: db)
                for (role, scope) in account.roles {
                    var scopeID: String?
                    if let scope, scope.hasPrefix("country:") { scopeID = String(scope.dropFirst(8)) }
                    if let scope, scope.hasPrefix("institution:") { scopeID = institutionIDs[String(scope.dropFirst(12))]?.uuidString }
                    try await RoleAssignment(userID: user.requireID(), role: role, scopeID: scopeID, grantedByID: nil).create(on: db)
                }
                if account.email == "admin" { adminID = user.id }
            }
            institutionKeys = institutionIDs
        }
        if withCampaigns, let adminID {
            let admin = Actor(userID: adminID, grants: [RoleGrant(role: .admin, scopeID: nil)], home: nil)
            try await DemoCampaigns(app: app, db: db).seed(admin: admin, institutions: institutionKeys)
        }
        if withRecords {
            try await RepositorySeed(app: app, db: db).seed()
        }
        if withCoordination {
            try await DemoCoordination(app: app, db: db).seed()
        }
        if withTraining {
            try await DemoTraining(app: app, db: db).seed()
        }
        return .seeded
    }

    /// What the console prints at start.
    static func signInLines(baseURL: String) -> [String] {
        ["Demo sign-ins (password: \(password)):"]
            + ["admin", "regional", "national.al", "coordinator.tirana", "curator.tirana", "expert.tirana", "trainer.tirana", "staff.tirana"]
            .map { "  \($0)@\(domain)" }
            + ["  …and coordinator.<institution>@\(domain) for uet, prishtina, tuzla, mostar, montenegro, skopje, novisad, middlesex, cesie"]
    }
}
