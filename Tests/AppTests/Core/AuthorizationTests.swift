@testable import App
import Foundation
import Testing

/// Role boundaries as pure functions (DESIGN.md section 1).
@Suite("Scoped roles")
struct AuthorizationTests {
    let tirana = InstitutionPlace(institutionID: UUID(), countryCode: "AL")
    let uet = InstitutionPlace(institutionID: UUID(), countryCode: "AL")
    let tuzla = InstitutionPlace(institutionID: UUID(), countryCode: "BA")

    func actor(_ grants: (Role, String?)...) -> Actor {
        Actor(userID: UUID(), grants: grants.map { RoleGrant(role: $0.0, scopeID: $0.1) }, home: nil)
    }

    func grant(_ role: Role, _ place: InstitutionPlace) -> RoleGrant {
        RoleGrant(role: role, scopeID: place.institutionID.uuidString)
    }

    @Test("an institutional coordinator manages only their own institution")
    func institutionalCoordinator() {
        let coordinator = actor((.institutionalCoordinator, tirana.institutionID.uuidString))
        #expect(coordinator.canManage(tirana))
        #expect(!coordinator.canManage(uet))
        #expect(!coordinator.canManage(tuzla))
        #expect(!coordinator.canManageCountry("AL"))
        #expect(coordinator.canGrant(grant(.curator, tirana), place: tirana))
        #expect(coordinator.canGrant(grant(.expert, tirana), place: tirana))
        #expect(coordinator.canGrant(grant(.trainer, tirana), place: tirana))
        #expect(coordinator.canGrant(grant(.staff, tirana), place: tirana))
        #expect(!coordinator.canGrant(grant(.curator, uet), place: uet), "coordinator of A cannot touch B")
        #expect(!coordinator.canGrant(grant(.institutionalCoordinator, tirana), place: tirana), "no granting one's own rank")
        #expect(!coordinator.canGrant(RoleGrant(role: .nationalCoordinator, scopeID: "AL"), place: nil))
        #expect(!coordinator.canGrant(RoleGrant(role: .admin, scopeID: nil), place: nil))
        // A grant whose scope does not match the place is refused.
        #expect(!coordinator.canGrant(grant(.staff, uet), place: tirana))
    }

    @Test("a national coordinator covers the institutions of their country only")
    func nationalCoordinator() {
        let national = actor((.nationalCoordinator, "AL"))
        #expect(national.canManage(tirana))
        #expect(national.canManage(uet))
        #expect(!national.canManage(tuzla))
        #expect(national.canManageCountry("AL"))
        #expect(!national.canManageCountry("BA"))
        #expect(national.canGrant(grant(.institutionalCoordinator, uet), place: uet))
        #expect(!national.canGrant(grant(.institutionalCoordinator, tuzla), place: tuzla))
        #expect(!national.canGrant(RoleGrant(role: .nationalCoordinator, scopeID: "AL"), place: nil))
        #expect(!national.canGrant(RoleGrant(role: .regionalCoordinator, scopeID: nil), place: nil))
    }

    @Test("a regional coordinator appoints national coordinators but not admins")
    func regionalCoordinator() {
        let regional = actor((.regionalCoordinator, nil))
        #expect(regional.canManage(tuzla))
        #expect(regional.canManageCountry("XK"))
        #expect(regional.canGrant(RoleGrant(role: .nationalCoordinator, scopeID: "XK"), place: nil))
        #expect(regional.canGrant(grant(.institutionalCoordinator, tuzla), place: tuzla))
        #expect(!regional.canGrant(RoleGrant(role: .regionalCoordinator, scopeID: nil), place: nil))
        #expect(!regional.canGrant(RoleGrant(role: .admin, scopeID: nil), place: nil))
        #expect(!regional.canAdministerPlatform)
    }

    @Test("an admin can do everything; curators, experts, trainers and staff manage nothing")
    func adminAndMembers() {
        let admin = actor((.admin, nil))
        #expect(admin.canAdministerPlatform)
        #expect(admin.canGrant(RoleGrant(role: .admin, scopeID: nil), place: nil))
        #expect(admin.canGrant(RoleGrant(role: .regionalCoordinator, scopeID: nil), place: nil))
        for role in [Role.curator, .expert, .trainer, .staff] {
            let member = actor((role, tirana.institutionID.uuidString))
            #expect(!member.canManage(tirana))
            #expect(!member.isCoordinator)
            #expect(!member.canGrant(grant(.staff, tirana), place: tirana))
        }
    }

    @Test("every role has the scope DESIGN.md gives it")
    func scopes() {
        #expect(Role.admin.scopeKind == .platform)
        #expect(Role.regionalCoordinator.scopeKind == .platform)
        #expect(Role.nationalCoordinator.scopeKind == .country)
        for role in [Role.institutionalCoordinator, .curator, .expert, .trainer, .staff] { #expect(role.scopeKind == .institution) }
    }
}
