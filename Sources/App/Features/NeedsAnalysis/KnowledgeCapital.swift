import Fluent
import Vapor

/// Knowledge capital (DESIGN.md 3.1): after submitting anonymously, a respondent who declared expertise or earlier
/// projects may share them by name, in a separate step that is never linked to their answers.
/// Expertise with consent becomes an expert nomination; projects become records the coordinator reviews.
extension CampaignService {
    /// What the respondent declared in the knowledge-capital items, to offer sharing it by name.
    struct Declared {
        var areas: [String]
        var projects: String
        var consented: Bool
        var isEmpty: Bool { areas.isEmpty && projects.isEmpty }
    }

    static func declared(in answers: [String: AnswerValue], definition: InstrumentDefinition) -> Declared {
        var result = Declared(areas: [], projects: "", consented: false)
        for item in definition.items {
            guard let role = item.knowledgeCapital, let value = answers[item.code]?.text, !value.isEmpty else { continue }
            switch role {
            case "expertise": result.areas = value.split(separator: "|").map(String.init)
            case "projects": result.projects = value
            case "consent": result.consented = value == "yes"
            default: break
            }
        }
        return result
    }

    /// A submitted link may declare once, while the campaign is open.
    func declarationLink(_ token: String) async throws -> (CampaignInvitation, Campaign)? {
        guard let invitation = try await CampaignInvitation.query(on: db).filter(\.$tokenHash == SecureToken.hash(token)).first(),
              invitation.submittedAt != nil, invitation.declaredAt == nil,
              let campaign = try await Campaign.find(invitation.$campaign.id, on: db), campaign.state == .open else { return nil }
        return (invitation, campaign)
    }

    func declare(token: String, name: String, email: String, areas: [String], projects: String, consent: Bool) async throws {
        guard let (invitation, campaign) = try await declarationLink(token) else { throw Abort(.gone) }
        var errors: [(String, String)] = []
        if let problem = AccountRules.nameProblem(name) { errors.append(("name", problem)) }
        let address = AccountRules.normalizedEmail(email)
        if !AccountRules.isValidEmail(address) { errors.append(("email", "validation.email_invalid")) }
        let known = Set(try await Area.query(on: db).all().map(\.code))
        let chosen = areas.filter { known.contains($0) }
        let text = projects.trimmingCharacters(in: .whitespacesAndNewlines)
        if chosen.isEmpty && text.isEmpty { errors.append(("areas", "kc.error.nothing")) }
        if text.count > 4000 { errors.append(("projects", "respond.error.too_long")) }
        if !consent { errors.append(("consent", "kc.error.consent")) }
        guard errors.isEmpty else { throw FieldErrors(errors) }
        try await db.transaction { db in
            let declaration = KnowledgeCapitalDeclaration()
            declaration.$campaign.id = try campaign.requireID()
            declaration.institutionID = invitation.institutionID
            declaration.name = name.trimmingCharacters(in: .whitespacesAndNewlines)
            declaration.email = address
            declaration.areas = chosen
            declaration.projects = text
            declaration.status = .new
            try await declaration.create(on: db)
            invitation.declaredAt = now()
            try await invitation.save(on: db)
        }
    }

    func setDeclarationStatus(_ id: UUID, to status: KnowledgeCapitalDeclaration.Status, campaign: Campaign, by actor: Actor) async throws {
        try await requireRun(campaign, by: actor)
        guard let declaration = try await KnowledgeCapitalDeclaration.find(id, on: db), declaration.$campaign.id == campaign.id else {
            throw Abort(.notFound)
        }
        declaration.status = status
        try await declaration.save(on: db)
    }
}
