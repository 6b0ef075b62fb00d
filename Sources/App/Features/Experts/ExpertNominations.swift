import Fluent
import Vapor

/// Nominations of experts (DESIGN.md 3.3): from a coordinator, from sign-up (the person's own profile), and from the
/// expertise people declared by name in a needs-analysis campaign. One place creates the nominated profile.
struct ExpertNominations {
    let db: any Database
    let mailer: any Mailer
    let catalog: Catalog
    let baseURL: String

    /// Creates a nominated profile for `user` unless they already have one; competencies start at proficiency 2 with
    /// the given evidence, for the expert to correct. Returns the new profile, or nil if one existed.
    @discardableResult
    func nominate(_ user: User, institutionID: UUID, source: ExpertProfile.Source, areas: [String] = [], evidence: String = "",
                  by nominator: UUID?) async throws -> ExpertProfile? {
        let userID = try user.requireID()
        guard try await ExpertProfile.query(on: db).filter(\.$user.$id == userID).first() == nil else { return nil }
        let profile = ExpertProfile()
        profile.$user.id = userID
        profile.$institution.id = institutionID
        profile.status = .nominated
        profile.level = .institutional
        profile.source = source
        profile.bio = ""
        profile.languages = user.languages
        profile.formats = []
        profile.capacity = 2
        profile.isPublic = false
        profile.ratingSum = 0
        profile.ratingCount = 0
        profile.nominatedByID = nominator
        try await profile.create(on: db)
        for area in Set(areas) {
            let competency = ExpertCompetency()
            competency.$expert.id = try profile.requireID()
            competency.area = area
            competency.proficiency = 2
            competency.evidence = String(evidence.prefix(2000))
            competency.links = []
            try await competency.create(on: db)
        }
        let locale = UILocale(rawValue: user.preferredLocale ?? "en") ?? .en
        try await mailer.send(MailMessage(
            to: user.email, subject: catalog.text("experts.mail.nominated", locale),
            body: catalog.text("experts.mail.nominated-body", locale, ["\(baseURL)/experts/me"]) + "\n"), on: db)
        return profile
    }

    /// What nominating a knowledge-capital declaration did.
    enum DeclarationOutcome: Equatable {
        /// The person has an account: a nominated profile now exists (or already did).
        case profile(created: Bool)
        /// No account yet: an invitation with the expert role went out; the profile is created when they accept it.
        case invited
    }

    /// A coordinator nominates a person who declared expertise in a needs-analysis campaign.
    func nominate(_ declaration: KnowledgeCapitalDeclaration, campaignTitle: String, by actor: Actor, accounts: AccountService,
                  locale: UILocale) async throws -> DeclarationOutcome {
        if let user = try await User.query(on: db).filter(\.$email == declaration.email).first() {
            let created = try await nominate(user, institutionID: user.$institution.id ?? declaration.institutionID, source: .needsAnalysis,
                                             areas: declaration.areas, evidence: evidence(declaration, campaignTitle: campaignTitle),
                                             by: actor.userID)
            return .profile(created: created != nil)
        }
        let pending = try await OneTimeLink.query(on: db).filter(\.$purpose == .invitation).filter(\.$email == declaration.email)
            .filter(\.$usedAt == nil).filter(\.$expiresAt > Date()).count()
        if pending == 0 {
            _ = try await accounts.invite(email: declaration.email, role: .expert, institutionID: declaration.institutionID, by: actor, locale: locale)
        }
        return .invited
    }

    func evidence(_ declaration: KnowledgeCapitalDeclaration, campaignTitle: String) -> String {
        let projects = declaration.projects.isEmpty ? "" : " \(declaration.projects)"
        return "Declared in the needs-analysis campaign “\(campaignTitle)”.\(projects)"
    }

    /// When someone who was nominated from a declaration joins: their profile is created from what they declared.
    func claimDeclarations(for user: User) async throws {
        let declarations = try await KnowledgeCapitalDeclaration.query(on: db).filter(\.$email == user.email)
            .filter(\.$status == .nominated).sort(\.$createdAt, .descending).all()
        guard let latest = declarations.first, let institutionID = user.$institution.id ?? Optional(latest.institutionID) else { return }
        let campaign = try await Campaign.find(latest.$campaign.id, on: db)
        try await nominate(user, institutionID: institutionID, source: .needsAnalysis, areas: declarations.flatMap(\.areas),
                           evidence: evidence(latest, campaignTitle: campaign?.title ?? ""), by: nil)
    }
}

extension Request {
    var nominations: ExpertNominations {
        ExpertNominations(db: db, mailer: application.mailer, catalog: application.catalog, baseURL: application.config.baseURL)
    }
}
