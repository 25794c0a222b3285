# The coordinator and the demo participants (one image, two commands).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# the build copies migrations/sql into dist (tsc copies no .sql): the image ships dist/ alone, so check it
RUN npm run build && ls dist/migrations/sql/*/*.sql && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 7070
CMD ["node", "dist/apps/coordinator/src/main.js"]
