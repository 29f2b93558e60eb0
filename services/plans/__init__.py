"""Plans: students, individual support plans and their approval chain, agreements, consultations,
director's orders, semester evaluations and each student's timeline."""
