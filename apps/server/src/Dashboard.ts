/** `GET /`: the dashboard (filled in below). */
export const dashboardHtml = `<!doctype html><html><head><meta charset="utf-8"><title>Abathur</title></head><body><h1>Abathur</h1></body></html>`
