# Runs the TypeScript sources with tsx; the database schema is migrated at container start.
FROM node:24-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=dependencies /app/node_modules node_modules
COPY package.json mikro-orm.config.ts tsconfig.json ./
COPY server server
COPY migrations migrations
COPY scripts scripts
COPY sdk sdk
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["sh", "-c", "node --import tsx scripts/migrate.ts && exec node --import tsx server/main.ts"]
