import Fluent
import Vapor

/// Expert profiles: the public directory, a person's own profile, and the coordinators' nominations, reviews and
/// network levels (DESIGN.md 3.3).
struct ExpertRoutes: RouteCollection {
    func boot(routes: any RoutesBuilder) throws {
        let experts = routes.grouped("experts")
        experts.get(use: directory)
        experts.get(":id", "photo", use: photo)
        let signedIn = experts.grouped(User.redirectMiddleware(path: "/signin"))
        signedIn.get("me", use: myProfile)
        signedIn.post("me", use: saveProfile)
        signedIn.on(.POST, "me", "photo", body: .collect(maxSize: "8mb"), use: uploadPhoto)
        signedIn.post("me", "photo", "remove", use: removePhoto)
        signedIn.get("manage", use: manage)
        signedIn.post("manage", "nominate", use: nominate)
        signedIn.post(":id", "status", use: setStatus)
        signedIn.post(":id", "level", use: setLevel)
    }

    static let formats = RequestService.formats

    // MARK: directory

    struct DirectoryView: Encodable {
        struct Card: Encodable {
            var name: String
            var institution: String
            var level: String
            var competencies: [String]
            var languages: String
            var formats: String
            var bio: String
            var photo: String?
        }
        var cards: [Card]
        var areas: [Choice]
        var languages: [Choice]
        var countries: [Choice]
        var formats: [Choice]
        var total: Int
    }

    /// Active experts who chose to be listed, with what they marked public; never contact details.
    func directory(req: Request) async throws -> Response {
        let area = (try? req.query.get(String.self, at: "area")) ?? ""
        let language = (try? req.query.get(String.self, at: "language")) ?? ""
        let country = (try? req.query.get(String.self, at: "country")) ?? ""
        let format = (try? req.query.get(String.self, at: "format")) ?? ""
        let profiles = try await ExpertProfile.query(on: req.db).filter(\.$status == .active).filter(\.$isPublic == true).all()
        let ids = profiles.compactMap(\.id)
        let competencies = try await ExpertCompetency.query(on: req.db).filter(\.$expert.$id ~~ ids).all()
        let users = try await User.query(on: req.db).filter(\.$id ~~ profiles.map(\.$user.id)).all()
        let institutions = try await Institution.query(on: req.db).all()
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        let languages = try await LanguageEntry.query(on: req.db).all()
        let countries = try await Country.query(on: req.db).sort(\.$code).all()
        var cards: [DirectoryView.Card] = []
        for profile in profiles {
            let own = competencies.filter { $0.$expert.id == profile.id }.sorted { $0.proficiency > $1.proficiency }
            let institution = institutions.first { $0.id == profile.$institution.id }
            if !area.isEmpty && !own.contains(where: { $0.area == area }) { continue }
            if !language.isEmpty && !profile.languages.contains(language) { continue }
            if !country.isEmpty && institution?.countryCode != country { continue }
            if !format.isEmpty && !profile.formats.contains(format) { continue }
            cards.append(.init(
                name: users.first { $0.id == profile.$user.id }?.name ?? "",
                institution: institution.map { localized($0.names, req.locale) } ?? "",
                level: req.t("experts.level.\(profile.level.rawValue)"),
                competencies: own.map { c in "\(c.area) \(areas.first { $0.code == c.area }.map { localized($0.names, req.locale) } ?? "") · \(req.t("experts.proficiency.\(c.proficiency)"))" },
                languages: profile.languages.map { tag in languages.first { $0.tag == tag }.map { localized($0.names, req.locale) } ?? tag }.joined(separator: ", "),
                formats: profile.formats.map { req.t("rfk.format.\($0)") }.joined(separator: ", "),
                bio: profile.bio, photo: profile.photoSHA256 == nil ? nil : "/experts/\(profile.id!.uuidString)/photo"))
        }
        cards.sort { $0.name < $1.name }
        let any = Choice(value: "", label: req.t("experts.any"), selected: false)
        let view = DirectoryView(
            cards: cards,
            areas: [any] + areas.map { Choice(value: $0.code, label: "\($0.code) · \(localized($0.names, req.locale))", selected: $0.code == area) },
            languages: [any] + languages.map { Choice(value: $0.tag, label: localized($0.names, req.locale), selected: $0.tag == language) },
            countries: [any] + countries.map { Choice(value: $0.code, label: localized($0.names, req.locale), selected: $0.code == country) },
            formats: [any] + Self.formats.map { Choice(value: $0, label: req.t("rfk.format.\($0)"), selected: $0 == format) },
            total: cards.count)
        return try await req.page("experts/directory", titleKey: "experts.title", view)
    }

    // MARK: my profile

    struct ProfileView: Encodable {
        struct CompetencyRow: Encodable {
            var area: String
            var label: String
            var proficiency: [Choice]
            var evidence: String
        }
        struct WindowRow: Encodable {
            var index: Int
            var start: String
            var end: String
            var note: String
            var error: String?
        }
        var form: FormState
        var exists: Bool
        var status: String?
        var level: String?
        var competencies: [CompetencyRow]
        var languages: [Choice]
        var formats: [Choice]
        var windows: [WindowRow]
        var isPublic: Bool
        var photo: String?
        var maxPhoto: String
    }

    struct ProfileInput {
        var bio = ""
        var orcid = ""
        var capacity = "2"
        var languages: [String] = []
        var formats: [String] = []
        var proficiency: [String: Int] = [:]
        var evidence: [String: String] = [:]
        var windows: [(start: String, end: String, note: String)] = []
        var isPublic = false
    }

    static func input(_ pairs: [(String, String)]) -> ProfileInput {
        var input = ProfileInput()
        var windows: [Int: (start: String, end: String, note: String)] = [:]
        for (name, value) in pairs {
            switch name {
            case "bio": input.bio = value
            case "orcid": input.orcid = value
            case "capacity": input.capacity = value
            case "languages[]": input.languages.append(value)
            case "formats[]": input.formats.append(value)
            case "is_public": input.isPublic = value == "on"
            default:
                let parts = name.split(whereSeparator: { $0 == "[" || $0 == "]" }).map(String.init)
                guard parts.count == 2 || parts.count == 3 else { continue }
                if parts[0] == "proficiency" { input.proficiency[parts[1]] = Int(value) ?? 0 }
                if parts[0] == "evidence" { input.evidence[parts[1]] = value }
                if parts[0] == "windows", parts.count == 3, let index = Int(parts[1]), index < 20 {
                    var window = windows[index] ?? ("", "", "")
                    switch parts[2] {
                    case "start": window.start = value
                    case "end": window.end = value
                    case "note": window.note = value
                    default: break
                    }
                    windows[index] = window
                }
            }
        }
        input.windows = windows.keys.sorted().map { windows[$0]! }
        return input
    }

    func profileView(_ req: Request, _ profile: ExpertProfile?, _ input: ProfileInput, errors: FieldErrors?) async throws -> ProfileView {
        var form = FormState(values: ["bio": input.bio, "orcid": input.orcid, "capacity": input.capacity])
        var messages: [String: String] = [:]
        for (field, key) in errors?.fields ?? [] { form.add(field, req.t(key)); messages[field] = req.t(key) }
        let areas = try await Area.query(on: req.db).sort(\.$position).all()
        let languages = try await LanguageEntry.query(on: req.db).all()
        let windows = input.windows + [("", "", "")]
        return ProfileView(
            form: form, exists: profile != nil,
            status: profile.map { req.t("experts.status.\($0.status.rawValue)") },
            level: profile.map { req.t("experts.level.\($0.level.rawValue)") },
            competencies: areas.map { area in
                let level = input.proficiency[area.code] ?? 0
                return .init(area: area.code, label: "\(area.code) · \(localized(area.names, req.locale))",
                             proficiency: (0...4).map { Choice(value: String($0), label: req.t("experts.proficiency.\($0)"), selected: $0 == level) },
                             evidence: input.evidence[area.code] ?? "")
            },
            languages: languages.map { Choice(value: $0.tag, label: localized($0.names, req.locale), selected: input.languages.contains($0.tag)) },
            formats: Self.formats.map { Choice(value: $0, label: req.t("rfk.format.\($0)"), selected: input.formats.contains($0)) },
            windows: windows.enumerated().map { index, window in
                .init(index: index, start: window.start, end: window.end, note: window.note, error: messages["windows[\(index)][end]"])
            },
            isPublic: input.isPublic,
            photo: profile?.photoSHA256 == nil ? nil : "/experts/\(profile!.id!.uuidString)/photo",
            maxPhoto: ByteCountFormatter.string(fromByteCount: Int64(ExpertPhoto.maxBytes), countStyle: .file))
    }

    func myProfile(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == actor.userID).first()
        var input = ProfileInput()
        if let profile {
            input.bio = profile.bio
            input.orcid = profile.orcid ?? ""
            input.capacity = String(profile.capacity)
            input.languages = profile.languages
            input.formats = profile.formats
            input.isPublic = profile.isPublic
            for c in try await ExpertCompetency.query(on: req.db).filter(\.$expert.$id == profile.requireID()).all() {
                input.proficiency[c.area] = c.proficiency
                input.evidence[c.area] = c.evidence
            }
            input.windows = try await ExpertAvailability.query(on: req.db).filter(\.$expert.$id == profile.requireID()).sort(\.$startsOn).all()
                .map { (CampaignService.day($0.startsOn), CampaignService.day($0.endsOn), $0.note) }
        } else if let user = req.auth.get(User.self) {
            input.languages = user.languages
        }
        return try await req.page("experts/profile", titleKey: "experts.my_profile", try await profileView(req, profile, input, errors: nil))
    }

    func saveProfile(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let home = actor.home else { throw Forbidden() }
        let input = Self.input(Responding.formPairs(req.body.string ?? ""))
        var errors: [(String, String)] = []
        var orcid: String?
        if !input.orcid.trimmingCharacters(in: .whitespaces).isEmpty {
            if let valid = ORCID.normalise(input.orcid) { orcid = valid } else { errors.append(("orcid", "repository.error.orcid")) }
        }
        let capacity = Int(input.capacity) ?? 0
        if capacity < 1 || capacity > 20 { errors.append(("capacity", "experts.error.capacity")) }
        if input.proficiency.values.allSatisfy({ $0 == 0 }) { errors.append(("competencies", "experts.error.competencies")) }
        if !input.formats.allSatisfy(Self.formats.contains) { errors.append(("formats", "rfk.error.formats")) }
        var windows: [(Date, Date, String)] = []
        for (index, window) in input.windows.enumerated() where !(window.start.isEmpty && window.end.isEmpty) {
            guard let start = CampaignService.parseDay(window.start), let end = CampaignService.parseDay(window.end) else {
                errors.append(("windows[\(index)][end]", "rfk.error.date")); continue
            }
            if end < start { errors.append(("windows[\(index)][end]", "rfk.error.window-order")); continue }
            windows.append((start, end, String(window.note.prefix(200))))
        }
        if !errors.isEmpty {
            let profile = try await ExpertProfile.query(on: req.db).filter(\.$user.$id == actor.userID).first()
            return try await req.page("experts/profile", titleKey: "experts.my_profile",
                                      try await profileView(req, profile, input, errors: FieldErrors(errors)), status: .unprocessableEntity)
        }
        try await req.db.transaction { tx in
            let profile = try await ExpertProfile.query(on: tx).filter(\.$user.$id == actor.userID).first() ?? {
                let fresh = ExpertProfile()
                fresh.$user.id = actor.userID
                fresh.$institution.id = home.institutionID
                fresh.status = .nominated
                fresh.level = .institutional
                fresh.source = .signup
                fresh.ratingSum = 0
                fresh.ratingCount = 0
                return fresh
            }()
            profile.bio = String(input.bio.prefix(5000))
            profile.orcid = orcid
            profile.capacity = capacity
            profile.languages = input.languages
            profile.formats = input.formats
            profile.isPublic = input.isPublic
            try await profile.save(on: tx)
            let id = try profile.requireID()
            try await ExpertCompetency.query(on: tx).filter(\.$expert.$id == id).delete()
            for (area, level) in input.proficiency where (1...4).contains(level) {
                let c = ExpertCompetency()
                c.$expert.id = id
                c.area = area
                c.proficiency = level
                c.evidence = String((input.evidence[area] ?? "").prefix(2000))
                c.links = []
                try await c.create(on: tx)
            }
            try await ExpertAvailability.query(on: tx).filter(\.$expert.$id == id).delete()
            for (start, end, note) in windows {
                let w = ExpertAvailability()
                w.$expert.id = id
                w.startsOn = start
                w.endsOn = end
                w.note = note
                try await w.create(on: tx)
            }
        }
        req.flash("success", "experts.saved")
        return req.seeOther("/experts/me")
    }

    // MARK: coordinators

    struct ManageView: Encodable {
        struct Row: Encodable {
            var id: String
            var name: String
            var institution: String
            var status: String
            var statuses: [Choice]
            var levels: [Choice]
            var competencies: String
            var source: String
        }
        var rows: [Row]
        var members: [Choice]
    }

    /// The lifecycle of DESIGN.md 3.3: nominated → under review → active ⇄ paused → retired.
    static let allowedStatus: [ExpertProfile.Status: [ExpertProfile.Status]] = [
        .nominated: [.underReview, .retired], .underReview: [.active, .retired], .active: [.paused, .retired],
        .paused: [.active, .retired], .retired: [],
    ]

    /// Levels this person may grant: institutional by the institution's coordinator, national by the country's,
    /// regional by the regional coordinator (and admins).
    static func grantable(_ actor: Actor, _ place: InstitutionPlace) -> [NetworkLevel] {
        var levels: [NetworkLevel] = []
        if actor.canManage(place) { levels.append(.institutional) }
        if actor.canManageCountry(place.countryCode) { levels.append(.national) }
        if actor.isAdmin || actor.isRegionalCoordinator { levels.append(.regional) }
        return levels
    }

    func manage(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard actor.isCoordinator else { throw Forbidden() }
        let institutions = try await Institution.query(on: req.db).all().filter { $0.place.map(actor.canManage) ?? false }
        let ids = institutions.compactMap(\.id)
        let profiles = try await ExpertProfile.query(on: req.db).filter(\.$institution.$id ~~ ids).all()
        let users = try await User.query(on: req.db).filter(\.$institution.$id ~~ ids).sort(\.$name).all()
        let competencies = try await ExpertCompetency.query(on: req.db).filter(\.$expert.$id ~~ profiles.compactMap(\.id)).all()
        let rows = profiles.compactMap { profile -> ManageView.Row? in
            guard let institution = institutions.first(where: { $0.id == profile.$institution.id }), let place = institution.place else { return nil }
            let next = Self.allowedStatus[profile.status] ?? []
            return .init(
                id: profile.id!.uuidString, name: users.first { $0.id == profile.$user.id }?.name ?? "?",
                institution: localized(institution.names, req.locale), status: req.t("experts.status.\(profile.status.rawValue)"),
                statuses: next.map { Choice(value: $0.rawValue, label: req.t("experts.status.\($0.rawValue)"), selected: false) },
                levels: Self.grantable(actor, place).map { Choice(value: $0.rawValue, label: req.t("experts.level.\($0.rawValue)"), selected: $0 == profile.level) },
                competencies: competencies.filter { $0.$expert.id == profile.id }.map { "\($0.area):\($0.proficiency)" }.joined(separator: ", "),
                source: req.t("experts.source.\(profile.source.rawValue)"))
        }.sorted { $0.name < $1.name }
        let experts = Set(profiles.map(\.$user.id))
        let members = users.filter { !experts.contains($0.id!) && $0.status == .active }.map { Choice(value: $0.id!.uuidString, label: $0.name, selected: false) }
        return try await req.page("experts/manage", titleKey: "experts.manage", ManageView(rows: rows, members: members))
    }

    func profile(_ req: Request, _ actor: Actor) async throws -> (ExpertProfile, InstitutionPlace) {
        guard let id = req.parameters.get("id", as: UUID.self), let profile = try await ExpertProfile.find(id, on: req.db),
              let institution = try await Institution.find(profile.$institution.id, on: req.db), let place = institution.place else { throw Abort(.notFound) }
        return (profile, place)
    }

    func nominate(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        guard let userID = UUID(uuidString: (try? req.content.get(String.self, at: "user_id")) ?? ""),
              let user = try await User.find(userID, on: req.db), let institutionID = user.$institution.id,
              let institution = try await Institution.find(institutionID, on: req.db), let place = institution.place else { throw Abort(.badRequest) }
        guard actor.canManage(place) else { throw Forbidden() }
        try await req.nominations.nominate(user, institutionID: institutionID, source: .coordinator, by: actor.userID)
        req.flash("success", "experts.nominated")
        return req.seeOther("/experts/manage")
    }

    func setStatus(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let (profile, place) = try await profile(req, actor)
        guard actor.canManage(place) else { throw Forbidden() }
        guard let status = ExpertProfile.Status(rawValue: (try? req.content.get(String.self, at: "status")) ?? ""),
              Self.allowedStatus[profile.status]?.contains(status) == true else {
            req.flash("error", "experts.error.status")
            return req.seeOther("/experts/manage")
        }
        profile.status = status
        try await profile.save(on: req.db)
        req.flash("success", "experts.status-changed")
        return req.seeOther("/experts/manage")
    }

    func setLevel(req: Request) async throws -> Response {
        let actor = try await req.requireActor()
        let (profile, place) = try await profile(req, actor)
        guard let level = NetworkLevel(rawValue: (try? req.content.get(String.self, at: "level")) ?? ""),
              Self.grantable(actor, place).contains(level) else { throw Forbidden() }
        profile.level = level
        try await profile.save(on: req.db)
        req.flash("success", "experts.level-changed")
        return req.seeOther("/experts/manage")
    }
}
