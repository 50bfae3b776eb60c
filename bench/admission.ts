export async function benchAdmission(): Promise<void> {}
