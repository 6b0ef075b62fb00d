import Fluent
import FluentSQL
import Vapor

/// Invitations and responding: single-use links, open links with a cap, save and resume, submit once.
extension CampaignService {
    // MARK: invitations

    /// Creates one single-use link for a person and mails it. Returns the secret token.
    @discardableResult
    func invite(email: String, group: String, institutionID: UUID, to campaign: Campaign, by actor: Actor, locale: UILocale) async throws -> String {
        try await requireRun(campaign, by: actor)
        guard [.draft, .open].contains(campaign.state) else { throw FieldErrors([("state", "campaign.error.transition")]) }
        let address = AccountRules.normalizedEmail(email)
        guard AccountRules.isValidEmail(address) else { throw FieldErrors([("email", "validation.email_invalid")]) }
        guard campaign.groups.contains(group) else { throw FieldErrors([("group", "validation.groups_required")]) }
        guard campaign.targetInstitutions.contains(institutionID) else { throw FieldErrors([("institution_id", "validation.institution_required")]) }
        let token = try await makeLink(campaignID: campaign.requireID(), group: group, institutionID: institutionID, email: address)
        try await mailInvitation(to: address, token: token, campaign: campaign, locale: locale, reminder: false)
        return token
    }

    func mailInvitation(to address: String, token: String, campaign: Campaign, locale: UILocale, reminder: Bool) async throws {
        let key = reminder ? "mail.survey_reminder" : "mail.survey_invitation"
        try await mailer.send(MailMessage(
            to: address, subject: catalog.text(key + ".subject", locale, [campaign.title]),
            body: catalog.text(key + ".body", locale, [campaign.title, "\(baseURL)/respond/\(token)", Self.day(campaign.closesOn)])), on: db)
    }

    struct BulkResult {
        var invited: Int
        var problems: [InvitationCSV.Problem]
    }

    /// Invites every good row of an uploaded CSV; bad rows are reported by line and change nothing.
    func inviteFromCSV(_ data: Data, defaultInstitution: UUID?, to campaign: Campaign, by actor: Actor, locale: UILocale) async throws -> BulkResult {
        try await requireRun(campaign, by: actor)
        let parsed: (rows: [InvitationCSV.Row], problems: [InvitationCSV.Problem])
        do {
            parsed = try InvitationCSV.parse(data, groups: campaign.groups)
        } catch {
            throw FieldErrors([("file", "invitations.csv.encoding")])
        }
        let targets = try await Institution.query(on: db).filter(\.$id ~~ campaign.targetInstitutions).all()
        var problems = parsed.problems
        var invited = 0
        let existing = Set(try await CampaignInvitation.query(on: db).filter(\.$campaign.$id == campaign.requireID()).all().compactMap(\.email))
        for row in parsed.rows {
            var institutionID = defaultInstitution
            if let name = row.institution {
                institutionID = targets.first { $0.shortName.lowercased() == name.lowercased() || $0.slug == name.lowercased() }?.id
                if institutionID == nil { problems.append(.init(line: row.line, key: "invitations.csv.bad_institution", value: name)); continue }
            }
            guard let institutionID, campaign.targetInstitutions.contains(institutionID) else {
                problems.append(.init(line: row.line, key: "invitations.csv.bad_institution", value: row.institution ?? ""))
                continue
            }
            if existing.contains(row.email) {
                problems.append(.init(line: row.line, key: "invitations.csv.already_invited", value: row.email))
                continue
            }
            try await invite(email: row.email, group: row.group, institutionID: institutionID, to: campaign, by: actor, locale: locale)
            invited += 1
        }
        return BulkResult(invited: invited, problems: problems.sorted { $0.line < $1.line })
    }

    /// An open link for a stakeholder group, for public distribution, accepting at most `cap` submissions.
    func openLink(group: String, institutionID: UUID, cap: Int, for campaign: Campaign, by actor: Actor) async throws -> String {
        try await requireRun(campaign, by: actor)
        guard campaign.groups.contains(group) else { throw FieldErrors([("group", "validation.groups_required")]) }
        guard campaign.targetInstitutions.contains(institutionID) else { throw FieldErrors([("institution_id", "validation.institution_required")]) }
        guard (1...100_000).contains(cap) else { throw FieldErrors([("cap", "validation.cap")]) }
        return try await makeLink(campaignID: campaign.requireID(), group: group, institutionID: institutionID, cap: cap)
    }

    /// Mails a reminder to everyone invited by email who has not submitted. Returns how many.
    func remind(_ campaign: Campaign, by actor: Actor, locale: UILocale) async throws -> Int {
        try await requireRun(campaign, by: actor)
        guard campaign.state == .open else { throw FieldErrors([("state", "campaign.error.transition")]) }
        let pending = try await CampaignInvitation.query(on: db).filter(\.$campaign.$id == campaign.requireID())
            .filter(\.$submittedAt == nil).filter(\.$email != nil).all()
        for invitation in pending {
            // Only hashes are stored, so the reminder carries a new secret and the old link stops working;
            // answers saved with the old link stay with the invitation and open with the new one.
            let token = SecureToken.make()
            invitation.tokenHash = SecureToken.hash(token)
            invitation.remindedAt = now()
            try await invitation.save(on: db)
            try await mailInvitation(to: invitation.email!, token: token, campaign: campaign, locale: locale, reminder: true)
        }
        return pending.count
    }

    /// Stores a new link (only the hash of its secret) and returns the secret.
    private func makeLink(campaignID: UUID, group: String, institutionID: UUID, email: String? = nil, cap: Int? = nil,
                          parentID: UUID? = nil) async throws -> String {
        let token = SecureToken.make()
        let link = CampaignInvitation()
        link.$campaign.id = campaignID
        link.tokenHash = SecureToken.hash(token)
        link.group = group
        link.institutionID = institutionID
        link.email = email
        link.cap = cap
        link.uses = 0
        link.parentID = parentID
        try await link.create(on: db)
        return token
    }

    // MARK: responding

    enum LinkState {
        case invalid
        case notAccepting(Campaign)
        case alreadySubmitted(Campaign)
        case capReached(Campaign)
        /// An open link: make the respondent their own resume link.
        case openLink(CampaignInvitation, Campaign)
        case ready(CampaignInvitation, Campaign, Instrument)
    }

    func link(_ token: String) async throws -> LinkState {
        guard let invitation = try await CampaignInvitation.query(on: db).filter(\.$tokenHash == SecureToken.hash(token)).first(),
              let campaign = try await Campaign.find(invitation.$campaign.id, on: db),
              let instrument = try await Instrument.find(campaign.$instrument.id, on: db) else { return .invalid }
        if invitation.submittedAt != nil { return .alreadySubmitted(campaign) }
        if !isAccepting(campaign) { return .notAccepting(campaign) }
        if let cap = invitation.cap {
            return invitation.uses >= cap ? .capReached(campaign) : .openLink(invitation, campaign)
        }
        if let parentID = invitation.parentID, let parent = try await CampaignInvitation.find(parentID, on: db),
           let cap = parent.cap, parent.uses >= cap {
            return .capReached(campaign)
        }
        return .ready(invitation, campaign, instrument)
    }

    /// A respondent arriving through an open link gets a personal link of their own (to save and resume).
    func personalLink(from open: CampaignInvitation) async throws -> String {
        try await makeLink(campaignID: open.$campaign.id, group: open.group, institutionID: open.institutionID, parentID: open.id)
    }

    /// Drafts belong to the invitation, not to one secret: a reminder's new link finds the answers saved with the old one.
    func draftKey(for token: String) async throws -> String {
        let invitation = try await CampaignInvitation.query(on: db).filter(\.$tokenHash == SecureToken.hash(token)).first()
        return SecureToken.hash("draft:" + (try invitation?.requireID().uuidString ?? token))
    }

    func draft(for token: String, campaign: Campaign) async throws -> ResponseDraft? {
        try await ResponseDraft.query(on: db).filter(\.$keyHash == draftKey(for: token)).first()
    }

    /// Saves the answers of one page into the draft (merging with earlier pages; a cleared field clears the answer).
    func saveDraft(token: String, campaign: Campaign, page items: [InstrumentDefinition.Item], answers: [String: AnswerValue]) async throws {
        let draft: ResponseDraft
        if let existing = try await self.draft(for: token, campaign: campaign) {
            draft = existing
        } else {
            draft = ResponseDraft()
            draft.keyHash = try await draftKey(for: token)
            draft.$campaign.id = try campaign.requireID()
            draft.answers = [:]
        }
        var merged = draft.answers
        for item in items { merged[item.code] = answers[item.code] }
        draft.answers = merged
        try await draft.save(on: db)
    }

    /// Submits once: stores the answers without identity, marks the link used, deletes the draft.
    func submit(token: String, invitation: CampaignInvitation, campaign: Campaign, instrument: Instrument) async throws {
        let draft = try await self.draft(for: token, campaign: campaign)
        let answers = draft?.answers ?? [:]
        let sections = instrument.definition.sections(for: invitation.group)
        let items = sections.flatMap(\.items)
        let problems = Responding.problems(answers, items: items, requireAll: true)
        guard problems.isEmpty else { throw FieldErrors(problems.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }) }
        let areaOf = Dictionary(uniqueKeysWithValues: sections.flatMap { section in section.items.map { ($0.code, section.area) } })
        try await db.transaction { db in
            // Claim the link first, so a second submission with the same link (even a concurrent one) stores nothing.
            guard let sql = db as? any SQLDatabase else { throw Abort(.internalServerError) }
            let claimed = try await sql.raw("""
                UPDATE campaign_invitations SET submitted_at = \(bind: now()) \
                WHERE id = \(bind: invitation.requireID()) AND submitted_at IS NULL RETURNING id
                """).all()
            guard claimed.count == 1 else { throw Abort(.conflict, reason: "submitted") }
            if let parentID = invitation.parentID, let parent = try await CampaignInvitation.find(parentID, on: db) {
                if let cap = parent.cap, parent.uses >= cap { throw Abort(.gone, reason: "cap") }
                parent.uses += 1
                try await parent.save(on: db)
            }
            let response = SurveyResponse()
            response.$campaign.id = try campaign.requireID()
            response.institutionID = invitation.institutionID
            response.group = invitation.group
            response.submittedOn = Self.day(now())
            try await response.create(on: db)
            let responseID = try response.requireID()
            let campaignID = try campaign.requireID()
            for item in items {
                guard let value = answers[item.code], !value.isEmpty else { continue }
                let answer = SurveyAnswer()
                answer.$response.id = responseID
                answer.campaignID = campaignID
                answer.group = invitation.group
                answer.institutionID = invitation.institutionID
                answer.itemCode = item.code
                answer.areaCode = areaOf[item.code] ?? nil
                answer.importance = value.importance
                answer.performance = value.performance
                answer.numberValue = value.number
                answer.textValue = value.text
                try await answer.create(on: db)
            }
            if let draft { try await draft.delete(on: db) }
        }
    }
}
