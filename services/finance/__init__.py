"""Finance: programme settings with their history, attestations, claims checked by named and versioned
rules, the cross-tenant double-funding ledger, overrides confirmed by a second person, budget
reservations, what is owed per plan, reimbursement statements and the overview per tenant, region and all."""
